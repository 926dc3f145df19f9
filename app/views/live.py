"""Live camera: detection and emotion run in the visitor's browser (fer_utils.browser_live, LiteRT.js); camera
frames never leave the device, and the server's only work is sending the page and the two model files."""
import streamlit as st

from fer_app_common import browser_model_problem_once
from fer_utils.browser_live import live_camera

st.title("Live camera")
st.caption("Detection and emotion run in this browser, on the same model files as the Photos page: the camera's "
           "frames never leave your device. The sidebar's minimum face size and live smoothing apply at once.")
problem = browser_model_problem_once()
if problem:
    st.warning(f"The browser's copy of the emotion model does not match the shipped model: {problem}. Rebuild it "
               f"with `python -m fer_utils.browser_live --export-model`; until then live labels may differ from the "
               f"Photos page.")
live_camera(smoothing=st.session_state.get("smoothing", 0.5), min_face=st.session_state.get("min_face", 40),
            key="fer-live")
