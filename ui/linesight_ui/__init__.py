"""LineSight UI: the Streamlit screens operators and engineers use."""

__version__ = "0.1.0"
