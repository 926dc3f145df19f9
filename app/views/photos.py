"""Photos (uploads) and camera snapshots: each image annotated, with its faces' probabilities."""
import streamlit as st

from fer_app_common import show_photo
from fer_utils.images import max_image_pixels
from fer_utils.webapp import UPLOAD_TYPES

st.title("Emotions in photos")
try:
    limit = f"{max_image_pixels():,} pixels"
except ValueError as e:  # a bad FER_MAX_IMAGE_PIXELS setting: say which and stop this page
    st.error(str(e))
    st.stop()
upload_tab, snapshot_tab = st.tabs(["Upload photos", "Camera snapshot"])
with upload_tab:
    files = st.file_uploader(f"JPEG, PNG, WebP or BMP photos (each at most {limit})", type=UPLOAD_TYPES,
                             accept_multiple_files=True)
    for k, uploaded in enumerate(files or []):
        show_photo(uploaded.name, uploaded.getvalue(), key=f"download-upload-{k}")
with snapshot_tab:
    st.caption("The camera needs this page on https or on localhost (browsers offer cameras only to secure pages).")
    snapshot = st.camera_input("Take a snapshot")
    if snapshot is not None:
        show_photo("snapshot.jpg", snapshot.getvalue(), key="download-snapshot")
