"""Caption layout and export formats (JSON, TXT, SRT, WebVTT) for transcript documents."""
