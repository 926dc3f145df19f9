"""What every page of the web app shares: the photo model (loaded once per server), the sidebar (model card,
settings, responsible use) and how one photo is shown."""
import importlib.util
import sys
import threading
from pathlib import Path

import altair as alt
import pandas as pd
import streamlit as st

if importlib.util.find_spec("fer_utils") is None:  # deployed from a checkout without `pip install -e .`
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from fer_utils.browser_live import browser_model_problem
from fer_utils.data import EMOTIONS
from fer_utils.images import ImageError
from fer_utils.pipeline import EmotionDetector
from fer_utils.webapp import (NO_FACE_HINT, RESPONSIBLE_USE, annotate_photo, decode_upload, encode_png,
                              model_card_summary, probability_chart_data, probability_columns)

PRIVACY_NOTE = ("Privacy: the live camera runs in your browser, and its frames never leave your device. Photos and "
                "snapshots are sent to this server, processed in its memory and never written to disk; nothing is "
                "kept after you close the page, but whoever runs the server sees the photos it processes.")
FACES_PER_TABLE = 4  # table columns: 4 faces fit an 800-pixel-wide window beside the sidebar


@st.cache_resource(show_spinner="Loading the model (once per server)...")
def photo_detector() -> tuple[EmotionDetector, threading.Lock]:
    """The photo detector (the shipped model, 4 test-time views), loaded once per server process and
    shared by every visitor; the lock serialises its calls (the fast TFLite model is not thread-safe)."""
    return EmotionDetector(), threading.Lock()


@st.cache_resource
def browser_model_problem_once() -> str | None:
    """`browser_model_problem`, checked once per server (it hashes two 5 MB files)."""
    return browser_model_problem()


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


def probability_chart(results) -> alt.Chart:
    """Each face's 7 probabilities as horizontal bars, emotions in the model's order (the table's), one colour per
    face; the legend wraps so that it fits a narrow column."""
    data = pd.DataFrame(probability_chart_data(results)).melt("emotion", var_name="face", value_name="probability")
    return alt.Chart(data, height=alt.Step(max(4, 24 // len(results)))).mark_bar().encode(
        y=alt.Y("emotion:N", sort=list(EMOTIONS), title=None),
        yOffset=alt.YOffset("face:N", sort=[f"face {k + 1}" for k in range(len(results))]),
        x=alt.X("probability:Q", scale=alt.Scale(domain=[0, 1])),
        color=alt.Color("face:N", sort=[f"face {k + 1}" for k in range(len(results))],
                        legend=alt.Legend(orient="bottom", columns=2, title=None)),
        tooltip=["face", "emotion", alt.Tooltip("probability:Q", format=".3f")])


def show_photo(name: str, data: bytes, key: str) -> None:
    """Decode one upload in memory, find and classify its faces, show the annotated image, the probabilities
    (a chart and a table, both in the model's order of emotions) and a download button; a bad file gets its
    message and nothing else."""
    st.subheader(name)
    try:
        image = decode_upload(data, name)
    except ImageError as e:
        st.error(str(e))
        return
    detector, lock = photo_detector()
    annotated, results = annotate_photo(detector, image, st.session_state.get("min_face", 40), lock)
    picture, chart = st.columns([3, 2])
    picture.image(annotated, channels="BGR",
                  caption=f"{image.shape[1]} x {image.shape[0]} pixels, {len(results)} face(s)")
    with chart:
        if not results:
            st.warning(NO_FACE_HINT)
        else:
            st.altair_chart(probability_chart(results))
    for first in range(0, len(results), FACES_PER_TABLE):
        st.table(pd.DataFrame(probability_columns(results[first:first + FACES_PER_TABLE], first)).set_index(""))
    st.download_button("Download the annotated image", encode_png(annotated),
                       file_name=f"{Path(name).stem}_annotated.png", mime="image/png", key=key)
