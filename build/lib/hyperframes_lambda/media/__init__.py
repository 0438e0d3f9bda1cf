"""Media in and out of the pipeline: ffmpeg, probing, video frames, the audio mix, encoding.

May import: the ground modules only.
"""
