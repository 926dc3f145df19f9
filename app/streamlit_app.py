"""Facial emotion recognition in the browser: `streamlit run app/streamlit_app.py`.

Two pages (views/): photos and camera snapshots, analysed on the server; live camera video, analysed in the
visitor's own browser (fer_utils.browser_live: LiteRT.js in a Streamlit component, frames never leave the
device). Streamlit runs this script from the top on every interaction; the photo model is loaded once per
server (st.cache_resource).
"""
import streamlit as st

from fer_app_common import sidebar

st.set_page_config(page_title="Facial emotion recognition", page_icon=":performing_arts:", layout="wide")
page = st.navigation([st.Page("views/photos.py", title="Photos and snapshots", icon=":material/photo_camera:",
                              default=True),
                      st.Page("views/live.py", title="Live camera", icon=":material/videocam:")])
sidebar()
page.run()
