"""Offline re-rendering on a Ray cluster: the video is cut into chunks at its keyframes (``plan``), each chunk is
stylized by a Ray task into a chunk file (``task``), finished chunks are recorded so a stopped run resumes
(``manifest``), and the chunks are joined without re-encoding, with the source's audio (``join``). ``driver`` runs
the whole job; Ray itself is the optional ``[cluster]`` extra.
"""
