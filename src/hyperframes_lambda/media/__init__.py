"""Media in and out of the pipeline: ffmpeg, probing, video frames, the audio mix, encoding."""
