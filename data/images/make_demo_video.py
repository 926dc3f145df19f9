"""Rebuild data/images/demo_faces.mp4: a 4-second 320x240 clip that slowly pans and zooms over
the two bundled portraits (Grace Hopper, and the astronaut Eileen Collins; both public-domain US
government photos), used where no camera is available.

    python data/images/make_demo_video.py
"""
from pathlib import Path

import cv2
import numpy as np

HERE = Path(__file__).parent
FPS, SECONDS_PER_PHOTO, SIZE = 12, 2, (320, 240)


def frames():
    for name in ("grace_hopper.jpg", "astronaut.jpg"):
        photo = cv2.imread(str(HERE / name))
        h, w = photo.shape[:2]
        n = FPS * SECONDS_PER_PHOTO
        for t in np.linspace(0, 1, n):
            zoom = 1.0 + 0.15 * t                         # slow zoom in
            cw, ch = int(w / zoom), int(w / zoom * 3 / 4)
            x0, y0 = int((w - cw) * (0.5 + 0.2 * (t - 0.5))), max(0, int((h - ch) * 0.3))
            yield cv2.resize(photo[y0:y0 + ch, x0:x0 + cw], SIZE, interpolation=cv2.INTER_AREA)


out = HERE / "demo_faces.mp4"
writer = cv2.VideoWriter(str(out), cv2.VideoWriter_fourcc(*"mp4v"), FPS, SIZE)
for f in frames():
    writer.write(f)
writer.release()
print(f"wrote {out} ({out.stat().st_size // 1024} KB)")
