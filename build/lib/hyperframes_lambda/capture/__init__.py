"""Frames out of a loaded page: the layer between the stages and the browser.

    page_capture   one page in headless Chromium, frame by frame under BeginFrame control
                   (or screenshots), seeking the page's timeline deterministically
    frame_source   a served, loaded composition ready to capture; several pages in parallel
    font_report    which fonts the loaded page's text really rendered with

May import: ``browser/``, ``page/`` (the scripts it injects), ``media/`` and the ground
modules. Never ``stages/`` or anything above it, never ``compile/`` (it captures what the
compile wrote).
"""
