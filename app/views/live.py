"""Live camera: the browser sends camera frames over WebRTC (streamlit-webrtc + aiortc), the server
annotates each one in `LiveAnnotator` and sends it back."""
import streamlit_webrtc  # noqa: F401  # first, always: pylibsrtp (aiortc) segfaults when imported after TensorFlow

import time

import streamlit as st
from streamlit_webrtc import WebRtcMode, webrtc_streamer
from streamlit_webrtc.webrtc import SignallingTimeoutError

from fer_app_common import live_detector
from fer_utils.webapp import ICE_ENV, LIVE_TIMEOUT_S, LiveAnnotator, ice_configuration

CONNECT_NOTE = (f"Press **START** and allow the camera. The annotated video should start within a few seconds. "
                f"If it does not, WebRTC could not connect the browser and the server: the snapshot tab of "
                f"*Photos and snapshots* still works. On a deployed app, the server needs a STUN/TURN "
                f"server: set `{ICE_ENV}=auto` with TURN credentials (see docs/web_app.md).")

st.title("Live camera")
try:
    rtc_configuration = ice_configuration()
except ValueError as e:
    st.error(str(e))
    st.stop()
if "live_annotator" not in st.session_state:  # one per visitor: tracking and smoothing follow this visitor's faces
    st.session_state.live_annotator = LiveAnnotator(live_detector())
annotator: LiveAnnotator = st.session_state.live_annotator
annotator.configure(st.session_state.get("smoothing", 0.5), st.session_state.get("min_face", 40))

video, info = st.columns([3, 2])
with video:
    try:
        ctx = webrtc_streamer(key="fer-live", mode=WebRtcMode.SENDRECV, rtc_configuration=rtc_configuration,
                              video_frame_callback=annotator, async_processing=True,
                              media_stream_constraints={"audio": False, "video": {"width": {"ideal": 640},
                                                                                   "height": {"ideal": 480}}})
    except SignallingTimeoutError:  # streamlit-webrtc gives the server 10 s to set up the connection
        st.error("The server took more than 10 s to set up the video connection (it is busy). Press "
                 "**Try again**, or use the snapshot tab of *Photos and snapshots*.")
        st.button("Try again")
        st.stop()
active = ctx.state.playing or ctx.state.signalling
if active and st.session_state.get("live_started_at") is None:
    annotator.reset()
    st.session_state.live_started_at = time.monotonic()
elif not active:
    st.session_state.live_started_at = None


@st.fragment(run_every=1.0)  # always: the component's state reaches the script only on its own reruns
def live_status() -> None:
    """Frames annotated so far and the frame rate; a clear message when no frame arrives in time."""
    stats = annotator.stats()
    started_at = st.session_state.get("live_started_at")
    if started_at is not None and stats.frames == 0:
        waited = time.monotonic() - started_at
        if waited > LIVE_TIMEOUT_S:
            st.error(f"No video reached the server in {waited:.0f} s: WebRTC could not connect. Press STOP, and "
                     f"use the snapshot tab of *Photos and snapshots*, or see docs/web_app.md to set `{ICE_ENV}`.")
        else:
            st.caption(f"Connecting... ({waited:.0f} s; gives up after {LIVE_TIMEOUT_S:.0f} s)")
    ms = stats.ms_total / stats.frames if stats.frames else 0.0
    st.markdown(f"Annotated frames: **{stats.frames}** | {stats.fps:.1f} frames/s | {ms:.0f} ms per frame "
                f"on the server | faces: {stats.faces}")
    if stats.last_faces:
        largest = max(stats.last_faces, key=lambda f: f["box"][2] * f["box"][3])
        st.bar_chart(largest["probabilities"], height=200, horizontal=True)
    if stats.errors:
        st.warning(f"{stats.errors} frame(s) could not be annotated; the last: {stats.last_error}")


with info:
    st.info(CONNECT_NOTE)
    live_status()
