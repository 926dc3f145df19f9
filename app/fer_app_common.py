"""What every page of the web app shares: the model (loaded once per server), the photo detector, the
sidebar (model card, settings, responsible use) and how one photo is shown."""
import streamlit_webrtc  # noqa: F401  # first, always: pylibsrtp (aiortc) segfaults when imported after TensorFlow

import importlib.util
import sys
import threading
from pathlib import Path

import pandas as pd
import streamlit as st

if importlib.util.find_spec("fer_utils") is None:  # deployed from a checkout without `pip install -e .`
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from fer_utils.data import EMOTIONS
from fer_utils.pipeline import EmotionDetector
from fer_utils.images import ImageError
from fer_utils.webapp import (NO_FACE_HINT, RESPONSIBLE_USE, annotate_photo, decode_upload, encode_png,
                              model_card_summary, probability_rows)

PRIVACY_NOTE = ("Privacy: photos, snapshots and video frames are processed in this server's memory and never "
                "written to disk; nothing is kept after you close the page. Whoever runs the server sees "
                "what it processes: on a public deployment, frames leave your computer.")


@st.cache_resource(show_spinner="Loading the model (once per server)...")
def photo_detector() -> tuple[EmotionDetector, threading.Lock]:
    """The photo detector (the shipped model, 4 test-time views), loaded once per server process and
    shared by every visitor; the lock serialises its calls (the fast TFLite model is not thread-safe)."""
    return EmotionDetector(), threading.Lock()


def live_detector() -> EmotionDetector:
    """A video detector for one visitor's live stream: its own face tracking and smoothing state, and
    its own TFLite interpreter (4.7 MB, loaded in milliseconds), since interpreters are not thread-safe
    and each stream runs in its own thread."""
    return EmotionDetector.for_video()


def sidebar() -> None:
    """Model card figures (read from the card), the settings (stored in st.session_state), responsible use."""
    with st.sidebar:
        st.header("The model")
        card = model_card_summary()
        if card is None:
            st.warning("The model card models/fer_vgg_bn.json is missing: no figures to show.")
        else:
            left, right = st.columns(2)
            left.metric(f"{card['split']} accuracy", f"{card['accuracy']:.3f}")
            right.metric("macro-F1", f"{card['macro_f1']:.3f}")
            st.caption(f"{card['model']}, {card['params']:,} parameters, on {card['faces']:,} FER-2013 "
                       f"{card['split']} faces never used in training. Inference: {card['inference']}."
                       + (f" Measured with `{card['command']}`." if card["command"] else ""))
        st.header("Settings")
        st.slider("Minimum face size (pixels)", 20, 200, 40, 5, key="min_face",
                  help="Faces narrower than this are ignored: raise it to skip small background faces, "
                       "lower it for small faces in large photos.")
        st.slider("Live smoothing", 0.0, 0.9, 0.5, 0.1, key="smoothing",
                  help="Live video only: how much each face's probabilities carry over from the previous "
                       "frame (0 = none; higher = steadier labels that react more slowly).")
        st.header("Use it responsibly")
        st.markdown("\n".join(f"- {point}" for point in RESPONSIBLE_USE))
        st.caption(PRIVACY_NOTE)


def show_photo(name: str, data: bytes, key: str) -> None:
    """Decode one upload in memory, find and classify its faces, show the annotated image, the
    probabilities and a download button; a bad file gets its message and nothing else."""
    st.subheader(name)
    try:
        image = decode_upload(data, name)
    except ImageError as e:
        st.error(str(e))
        return
    detector, lock = photo_detector()
    annotated, results = annotate_photo(detector, image, st.session_state.get("min_face", 40), lock)
    picture, numbers = st.columns([3, 2])
    picture.image(annotated, channels="BGR",
                  caption=f"{image.shape[1]} x {image.shape[0]} pixels, {len(results)} face(s)")
    with numbers:
        if not results:
            st.warning(NO_FACE_HINT)
        else:
            st.dataframe(pd.DataFrame(probability_rows(results)), hide_index=True)
            st.bar_chart(pd.DataFrame({f"face {k + 1}": [r.probabilities[e] for e in EMOTIONS]
                                       for k, r in enumerate(results)}, index=list(EMOTIONS)),
                         stack=False, height=220)
        st.download_button("Download the annotated image", encode_png(annotated),
                           file_name=f"{Path(name).stem}_annotated.png", mime="image/png", key=key)
