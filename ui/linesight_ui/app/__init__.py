"""The Streamlit scripts: Home.py, and the pages Streamlit finds in pages/ beside it. A folder of their
own because Streamlit puts the main script's folder first on sys.path, where linesight_ui's module names
(settings, metrics, gateway) would shadow any top-level module of the same name."""
