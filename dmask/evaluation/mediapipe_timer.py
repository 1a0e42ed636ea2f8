"""MediaPipe's own FaceMesh with iris, timed frame by frame on request; run by MediaPipe's venv.

    python mediapipe_timer.py VIDEO

This file is run by the python of the venv that tools/install_mediapipe.sh
makes (mediapipe needs opencv-python and protobuf versions the appliance does
not have), so it imports nothing from dmask. It loads FaceMesh with
`refine_landmarks=True` (the attention mesh with the iris, tracking from
frame to frame as in a video) and prints `ready VERSION`. Then, for each
line on stdin, it decodes the video's next frame (not timed), times
`process` on it and prints `WALL_MS CPU_MS FOUND`, or `end` when the video
has no more frames. The caller alternates these with its own frames, so
both runtimes see the machine in the same state.
"""

import sys
import time

import cv2
import mediapipe


def main(video: str) -> None:
    capture = cv2.VideoCapture(video)
    mesh = mediapipe.solutions.face_mesh.FaceMesh(static_image_mode=False, max_num_faces=1, refine_landmarks=True)
    print("ready", mediapipe.__version__, flush=True)
    for _ in sys.stdin:
        ok, image = capture.read()
        if not ok:
            print("end", flush=True)
            continue
        rgb = cv2.cvtColor(image, cv2.COLOR_BGR2RGB)
        started, started_cpu = time.perf_counter(), time.process_time()
        result = mesh.process(rgb)
        wall, cpu = time.perf_counter() - started, time.process_time() - started_cpu
        print(f"{wall * 1e3:.4f} {cpu * 1e3:.4f} {int(result.multi_face_landmarks is not None)}", flush=True)
    mesh.close()


if __name__ == "__main__":
    main(sys.argv[1])
