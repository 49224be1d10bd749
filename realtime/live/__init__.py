"""``stylize live``: a local web page that sends the browser's camera over WebRTC to a stylizing server and shows
the stylized stream beside it (needs the ``[live]`` extra: aiohttp and aiortc)."""
