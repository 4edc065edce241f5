"""The Streamlit scripts: LineSight.py (the entry: sign-in, then the navigation) and the pages in
screens/. A folder of their own because Streamlit puts the main script's folder first on sys.path, where
linesight_ui's module names (settings, metrics, gateway) would shadow any top-level module of the same name."""
