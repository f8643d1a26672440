"""Captions burned into video: styles applied by FFmpeg, stored renders, the render job."""
