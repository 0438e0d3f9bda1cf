/*
 * hyperframes-lambda engine shim: the engine side of HyperFrames' page-runtime contract.
 *
 * Registered with Page.addScriptToEvaluateOnNewDocument, so it runs before any script of
 * the document. HyperFrames' own runtime (a pinned npm file, injected by the page server
 * before </head>) owns the format: clips, timelines, adapters, variables. This file owns
 * what the engine must provide around it:
 *   - a virtual clock (__HF_VIRTUAL_TIME__): Date, performance.now and
 *     requestAnimationFrame follow the seek time, never the wall clock;
 *   - seeded randomness, reseeded from the frame time on every seek, so a frame's pixels do
 *     not depend on which frames were rendered before it;
 *   - the render-mode globals the runtime reads, and the window.__hf seek/duration bridge;
 *   - what the renderer polls and calls over CDP (window.__hfEngine): status, seek, media;
 *   - pre-extracted video frames shown in place of <video> pixels.
 * window.__hfEngineConfig = {fps, seedRandom} is set by a prelude registered just before.
 */
(() => {
  "use strict";
  if (window.__hfEngine) return;
  const config = window.__hfEngineConfig || {};
  const fps = Number(config.fps) > 0 ? Number(config.fps) : 30;

  // Bundlers' keep-names helper, referenced by some serialized page functions.
  if (typeof window.__name !== "function") window.__name = (fn) => fn;

  // ---- errors: surfaced to the renderer ------------------------------------------------
  const errors = [];
  // A broken image renders as a broken image (as in HyperFrames): reported, not fatal.
  const warnings = [];
  const failedLoads = [];  // scripts and stylesheets that did not load: the renderer decides
  function recordError(e, where) {
    const message = (e && (e.stack || e.message)) || String(e);
    errors.push(where ? `${where}: ${message}` : message);
  }
  window.addEventListener("error", (event) => {
    const target = event.target;
    const tag = target && target.tagName;
    // Media are never decoded by Chrome here (sound is mixed offline, video frames are
    // extracted by the planner, which reports unusable media by name).
    if (tag === "VIDEO" || tag === "AUDIO" || tag === "SOURCE" || tag === "TRACK") return;
    if (tag === "IMG" || tag === "image" || tag === "INPUT") {
      const url = target.currentSrc || target.src || (target.href && target.href.baseVal) || "";
      // Files of the page's own origin that are missing are reported by the page server.
      if (url.startsWith(location.origin + "/")) return;
      const text = `image ${url} failed to load; it renders as a broken image`;
      if (!warnings.includes(text)) warnings.push(text);
      return;
    }
    // A <script> or stylesheet that fails to load (an empty src included) fires this
    // event and the page goes on without it, in a browser as in HyperFrames' renders:
    // the renderer warns, naming the element (or fails with strict assets). One the page
    // needed fails it anyway, through the errors its absence causes.
    if (tag === "SCRIPT" || (tag === "LINK" && /\bstylesheet\b/i.test(target.rel || ""))) {
      const attr = tag === "SCRIPT" ? "src" : "href";
      const all = Array.from(document.querySelectorAll(tag === "SCRIPT" ? "script" : "link"));
      const value = target.getAttribute(attr) || "";
      const element = `<${tag.toLowerCase()} ${attr}="${value}"${target.id ? ` id="${target.id}"` : ""}>`
        + ` (<${tag.toLowerCase()}> number ${all.indexOf(target) + 1} in the document)`;
      const text = value.trim() ? `${element} failed to load` : `${element} has an empty ${attr}`;
      if (!failedLoads.includes(text)) failedLoads.push(text);
      return;
    }
    if (target && target !== window && (target.src || target.href)) {
      errors.push(`failed to load <${tag.toLowerCase()}> ${target.src || target.href}`);
      return;
    }
    const where = event.filename ? `${event.filename}:${event.lineno}:${event.colno}` : "";
    errors.push(`${where ? where + ": " : ""}${event.message}`);
  }, true);
  window.__hfEngineReportError = (where, e) => recordError(e, where);
  window.addEventListener("unhandledrejection", (event) => recordError(event.reason, "unhandled rejection"));

  // ---- virtual time --------------------------------------------------------------------
  const OriginalDate = window.Date;
  const original = {
    setTimeout: window.setTimeout.bind(window),
    clearTimeout: window.clearTimeout.bind(window),
    setInterval: window.setInterval.bind(window),
    clearInterval: window.clearInterval.bind(window),
    requestAnimationFrame: window.requestAnimationFrame.bind(window),
    cancelAnimationFrame: window.cancelAnimationFrame.bind(window),
  };
  let nowMs = 0;
  // The wall clock, for the renderer's own timings only (how long a seek waited on loads).
  const wallNow = performance.now.bind(performance);

  // mulberry32, reseeded from the whole milliseconds of the seek time: the same stream
  // the reference engine uses in its distributed renders (we seed in every render).
  let rng = 0;
  function nextUint32() {
    rng = (rng + 0x6d2b79f5) | 0;
    let t = rng;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return (t ^ (t >>> 14)) >>> 0;
  }
  function reseed(ms) {
    rng = (Math.imul(Math.floor(ms) | 0, -1640531527) + 0x9e3779b9) | 0;
  }
  reseed(0);
  if (config.seedRandom !== false) {
    Math.random = () => nextUint32() / 4294967296;
    if (window.crypto && typeof window.crypto.getRandomValues === "function") {
      const fill = (array) => {
        const bytes = new Uint8Array(array.buffer, array.byteOffset, array.byteLength);
        let i = 0;
        for (; i + 4 <= bytes.length; i += 4) {
          const word = nextUint32();
          bytes[i] = word & 0xff; bytes[i + 1] = (word >>> 8) & 0xff;
          bytes[i + 2] = (word >>> 16) & 0xff; bytes[i + 3] = word >>> 24;
        }
        for (; i < bytes.length; i++) bytes[i] = nextUint32() & 0xff;
        return array;
      };
      try { window.crypto.getRandomValues = fill; } catch (e) { /* leave native */ }
    }
  }

  function VirtualDate(...args) {
    if (!new.target) return OriginalDate.apply(null, args.length ? args : [nowMs]);
    const instance = args.length ? new OriginalDate(...args) : new OriginalDate(nowMs);
    Object.setPrototypeOf(instance, VirtualDate.prototype);
    return instance;
  }
  VirtualDate.prototype = OriginalDate.prototype;
  Object.setPrototypeOf(VirtualDate, OriginalDate);
  VirtualDate.now = () => nowMs;
  VirtualDate.parse = OriginalDate.parse.bind(OriginalDate);
  VirtualDate.UTC = OriginalDate.UTC.bind(OriginalDate);
  window.Date = VirtualDate;
  try {
    Object.defineProperty(Performance.prototype, "now", { value: () => nowMs, configurable: true });
  } catch (e) {
    performance.now = () => nowMs;
  }

  // requestAnimationFrame callbacks run once per seek, with the seek time; callbacks they
  // queue wait for the next seek.
  let rafQueue = [];
  let rafNextId = 1;
  window.requestAnimationFrame = (callback) => {
    const id = rafNextId++;
    rafQueue.push({ id, callback, cancelled: false });
    return id;
  };
  window.cancelAnimationFrame = (id) => {
    for (const entry of rafQueue) if (entry.id === id) entry.cancelled = true;
  };
  function seekToTime(ms) {
    nowMs = Math.max(0, ms);
    if (config.seedRandom !== false) reseed(nowMs);
    const due = rafQueue;
    rafQueue = [];
    for (const entry of due) {
      if (entry.cancelled) continue;
      try { entry.callback(nowMs); } catch (e) { recordError(e, "requestAnimationFrame callback"); }
    }
  }
  window.__HF_VIRTUAL_TIME__ = {
    originalSetTimeout: original.setTimeout,
    originalClearTimeout: original.clearTimeout,
    originalSetInterval: original.setInterval,
    originalClearInterval: original.clearInterval,
    originalRequestAnimationFrame: original.requestAnimationFrame,
    originalCancelAnimationFrame: original.cancelAnimationFrame,
    getTime: () => nowMs,
    seekToTime,
  };

  // ---- render-mode globals the runtime reads -------------------------------------------
  window.__hf = window.__hf || {};
  window.__hfTimelinesBuilding = false;
  if (typeof window.__hfFlushSync !== "function") window.__hfFlushSync = () => {};
  globalThis.__HF_RENDER_CAPTURE_MODE = true;
  if (config.pageSideCompositing) window.__HF_PAGE_SIDE_COMPOSITING__ = true;

  // ---- timeline building -----------------------------------------------------------------
  // HyperFrames' producer loads every page with a stub that takes the tween calls of
  // gsap.timeline()s and reports "timelines building" until a later task, then fires
  // "hf-timelines-built". The runtime's first render-ready pass waits for that event, so
  // it runs after the runtime's own init has laid out the clips (hosts made absolute).
  // Which pass comes first decides how a hidden sub-composition is hidden: an in-flow
  // host seen before layout gets display:none, and GSAP then reads the start values of
  // its elements (a stylesheet rotate(), say) as none; seen after, it gets
  // visibility:hidden and keeps its layout. We report building the same way (the tweens
  // themselves are not deferred), until the page is ready.
  let timelinesBuilding = false;
  function timelinesBuilt() {
    timelinesBuilding = false;
    window.__hfTimelinesBuilding = false;
    try { window.dispatchEvent(new CustomEvent("hf-timelines-built")); } catch (e) { /* no window */ }
  }
  function noteTimelineBuilding() {
    if (timelinesBuilding || window.__renderReady) return;
    timelinesBuilding = true;
    window.__hfTimelinesBuilding = true;
    original.setTimeout(timelinesBuilt, 0);
  }
  function watchTimeline(tl) {
    if (!tl || typeof tl !== "object") return tl;
    for (const method of ["to", "from", "fromTo", "set", "add"]) {
      const own = tl[method];
      if (typeof own !== "function") continue;
      tl[method] = function (...args) {
        noteTimelineBuilding();
        return own.apply(this, args);
      };
    }
    return tl;
  }
  let gsapValue = window.gsap;
  try {
    Object.defineProperty(window, "gsap", {
      configurable: true,
      enumerable: true,
      get() { return gsapValue; },
      set(value) {
        gsapValue = value;
        if (!value || typeof value.timeline !== "function" || value.__hfEngineWatched) return;
        const makeTimeline = value.timeline.bind(value);
        value.timeline = (...args) => watchTimeline(makeTimeline(...args));
        try { Object.defineProperty(value, "__hfEngineWatched", { value: true }); } catch (e) { /* frozen */ }
      },
    });
  } catch (e) { /* window.gsap not configurable: timelines are not watched */ }
  window.__HF_EXPORT_RENDER_SEEK_CONFIG = {
    mode: "preview-phase", diagnostics: false, step: 1 / 120, offsetFraction: 0.5,
    fps, fpsSource: "render-options", owner: "runtime",
  };

  // ---- the player bridge ---------------------------------------------------------------
  function player() {
    const p = window.__player;
    return p && typeof p.renderSeek === "function" && typeof p.getDuration === "function" ? p : null;
  }
  function rootElement() {
    return document.querySelector('[data-composition-id][data-root="true"]')
      || document.querySelector("[data-composition-id]");
  }
  function numberAttr(el, name) {
    const raw = el && el.getAttribute(name);
    if (raw === null || raw === undefined || raw.trim() === "") return null;
    const value = Number(raw);
    return Number.isFinite(value) ? value : null;
  }
  function declaredDuration() {
    const declared = numberAttr(rootElement(), "data-duration");
    if (declared && declared > 0) return declared;
    let end = 0;
    for (const host of document.querySelectorAll("[data-composition-src], [data-hf-inlined-from]")) {
      const start = numberAttr(host, "data-start") || 0;
      const length = numberAttr(host, "data-duration") || 0;
      end = Math.max(end, start + length);
    }
    return end;
  }
  function duration() {
    const p = player();
    if (!p || window.__hfTimelinesBuilding || !window.__renderReady) return 0;
    const d = Number(p.getDuration());
    return d > 0 ? d : declaredDuration();
  }
  function bindBridge() {
    const p = player();
    if (!p) return false;
    if (!window.__hf || typeof window.__hf !== "object") window.__hf = {};
    const hf = window.__hf;
    if (hf.__hfEngineBridge !== p) {
      Object.defineProperty(hf, "duration", { get: duration, configurable: true, enumerable: true });
      hf.seek = (t, opts) => {
        // Reseed first too: random numbers drawn while the runtime seeks (hf-seek
        // listeners, adapters) must not depend on the frames rendered before this one.
        if (config.seedRandom !== false) reseed(Math.max(0, t) * 1000);
        player().renderSeek(t, opts);
        seekToTime(Math.max(0, t) * 1000);
      };
      Object.defineProperty(hf, "__hfEngineBridge", { value: p, configurable: true });
    }
    return true;
  }

  // ---- clip windows of media (for the planner and the video frames) --------------------
  // A media element's data-start counts from the start of the composition it is in: its
  // nearest enclosing composition host, not any timed ancestor. As in HyperFrames'
  // producer (hyperframes@0.8.170, renderMediaCollector): a <video data-start="0.5">
  // inside a plain `.clip` div that also starts at 0.5 s plays from 0.5 s, not 1 s.
  const COMPOSITION_HOST = "[data-composition-id], [data-composition-src], [data-composition-file]";
  function timedAncestor(el, root) {
    for (let p = el.parentElement; p; p = p.parentElement) {
      if (p === root) return null;
      if (p.matches(COMPOSITION_HOST)) return p;
    }
    return null;
  }
  function clipWindows(elements) {
    const root = rootElement();
    const resolved = new Map();
    const resolving = new Set();
    function resolve(el) {
      if (resolved.has(el)) return resolved.get(el);
      if (resolving.has(el)) throw new Error(`data-start references form a cycle at #${el.id}`);
      resolving.add(el);
      const parent = timedAncestor(el, root);
      const parentWindow = parent ? resolve(parent) : { start: 0, end: Infinity };
      const raw = (el.getAttribute("data-start") || "0").trim();
      let start;
      const asNumber = Number(raw);
      if (raw !== "" && Number.isFinite(asNumber)) {
        start = parentWindow.start + asNumber;
      } else {
        const m = raw.match(/^([A-Za-z_][\w:.-]*)\s*(?:([+-])\s*([0-9]*\.?[0-9]+))?$/);
        const ref = m && document.getElementById(m[1]);
        if (!m || !ref) {
          throw new Error(`data-start="${raw}" on <${el.tagName.toLowerCase()}${el.id ? " id=" + el.id : ""}> is neither a number nor "<id>", "<id> + s", "<id> - s" of an existing clip`);
        }
        const offset = m[2] ? (m[2] === "-" ? -1 : 1) * Number(m[3]) : 0;
        start = resolve(ref).end + offset;
      }
      let length = numberAttr(el, "data-duration");
      // No data-duration: data-end, in the same clock as data-start, when it
      // is after the start (HyperFrames' resolveAuthoredTimingWindow).
      const endAttr = numberAttr(el, "data-end");
      if (length === null && endAttr !== null && parentWindow.start + endAttr > start) {
        length = parentWindow.start + endAttr - start;
      }
      if (length === null) {
        const id = el.getAttribute("data-composition-id");
        const tl = id && window.__timelines && window.__timelines[id];
        if (tl && typeof tl.duration === "function") length = tl.duration();
      }
      let end = length === null ? Infinity : start + length;
      end = Math.min(end, parentWindow.end);
      const window_ = { start, end };
      resolving.delete(el);
      resolved.set(el, window_);
      return window_;
    }
    return elements.map((el) => (el.hasAttribute("data-start") || timedAncestor(el, root)
      ? resolve(el) : { start: 0, end: Infinity }));
  }

  function mediaSource(el) {
    if (el.getAttribute("src")) return new URL(el.getAttribute("src"), document.baseURI).href;
    const source = el.querySelector("source[src]");
    return source ? new URL(source.getAttribute("src"), document.baseURI).href : null;
  }
  // Where in the file a clip starts: `data-playback-start`, HyperFrames' newer name, wins
  // over `data-media-start` when it is a number >= 0 (as in its producer and runtime).
  function mediaOffset(el) {
    for (const name of ["data-playback-start", "data-media-start"]) {
      const value = numberAttr(el, name);
      if (value !== null && Number.isFinite(value) && value >= 0) return value;
    }
    return 0;
  }
  // A <video data-has-audio="false"> (anything but "true") adds nothing to the soundtrack.
  function declaredSilent(el) {
    return el.hasAttribute("data-has-audio") && el.getAttribute("data-has-audio") !== "true";
  }
  // Linear audio fades at the clip's ends, in seconds (`data-fade-in`, `data-fade-out`):
  // parsed leniently as the producer does; listed only when set, so plans without them
  // stay as they were.
  function fades(el) {
    const out = {};
    for (const [name, key] of [["data-fade-in", "fadeIn"], ["data-fade-out", "fadeOut"]]) {
      const value = Number.parseFloat(el.getAttribute(name) || "");
      if (Number.isFinite(value) && value > 0) out[key] = value;
    }
    return out;
  }
  function describeMedia() {
    const out = [];
    for (const kind of ["audio", "video"]) {
      const elements = Array.from(document.querySelectorAll(kind));
      const windows = clipWindows(elements);
      elements.forEach((el, index) => {
        const volume = numberAttr(el, "data-volume");
        const mediaStart = mediaOffset(el);
        const rate = numberAttr(el, "data-playback-rate");
        out.push({
          kind, index, id: el.id || null, src: el.__hfSrc || mediaSource(el),
          start: windows[index].start,
          end: Number.isFinite(windows[index].end) ? windows[index].end : null,
          mediaStart: mediaStart && mediaStart > 0 ? mediaStart : 0,
          playbackRate: rate && rate > 0 ? rate : 1,
          volume: volume === null ? 1 : volume,
          loop: el.hasAttribute("loop"),
          muted: el.hasAttribute("muted") || el.muted || (kind === "video" && declaredSilent(el)),
          ...fades(el),
        });
      });
    }
    return out;
  }

  // ---- video frames: window.__hfVideoFrames lists, per <video> in document order,
  // {dir, count, ext} of the frames the planner extracted. As in HyperFrames' engine, the
  // frame for time t is shown by a sibling <img class="__render_frame__"
  // id="__render_frame_<render id>__"> laid over the video's box with its visual styles, and
  // the video itself is hidden: Chrome never decodes video, and the runtime's WebGL/WebGPU
  // texture patches find the frame in that sibling.
  const VISUAL_PROPERTIES = ["object-fit", "object-position", "opacity", "filter", "transform",
    "transform-origin", "border-radius", "clip-path", "mask", "mask-image", "z-index",
    "mix-blend-mode", "box-shadow", "border", "rotate", "scale", "translate", "backface-visibility"];
  let videos = null;
  function renderId(el, index) {
    let id = el.getAttribute("data-hf-render-id") || el.id;
    if (!id) {
      id = `hf-media-${index}`;
      el.setAttribute("data-hf-render-id", id);
    }
    return id;
  }
  // Without its source a <video> has no natural size (CSS then sizes it 300x150), while
  // in a browser, and in HyperFrames' renders, it has the file's dimensions once its
  // metadata is in: `width: 100%; height: auto` is full-frame there, a 2:1 strip here.
  // A poster the file's size gives the element that natural size (a <video> with no
  // frame is sized by its poster); it is never painted, the video being hidden. An SVG
  // data: URL is loaded synchronously, so layout has it before the next frame. Scripts
  // reading videoWidth/videoHeight get the file's size too.
  function keepNaturalSize(el, info) {
    const width = Number(info.width);
    const height = Number(info.height);
    if (!(width > 0 && height > 0)) return;
    el.poster = "data:image/svg+xml," + encodeURIComponent(
      `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}"/>`);
    try {
      Object.defineProperty(el, "videoWidth", { get: () => width, configurable: true });
      Object.defineProperty(el, "videoHeight", { get: () => height, configurable: true });
    } catch (e) { /* leave the element's own */ }
  }
  function prepareVideos() {
    if (videos) return;
    const frames = window.__hfVideoFrames || [];
    const elements = Array.from(document.querySelectorAll("video"));
    const windows = clipWindows(elements);
    videos = elements.map((el, index) => {
      el.__hfSrc = mediaSource(el);
      try { el.pause(); } catch (e) { /* detached */ }
      el.removeAttribute("autoplay");
      const info = frames[index] && frames[index].count > 0 ? frames[index] : null;
      let img = null;
      if (info) {
        el.removeAttribute("src");
        for (const source of el.querySelectorAll("source")) source.remove();
        el.preload = "none";
        el.load();
        keepNaturalSize(el, info);
        el.style.setProperty("visibility", "hidden", "important");
        el.style.setProperty("pointer-events", "none", "important");
        img = document.createElement("img");
        img.className = "__render_frame__";
        img.id = `__render_frame_${renderId(el, index)}__`;
        img.decoding = "sync";
        img.alt = "";
        el.after(img);
      }
      return { el, img, info, url: null, start: windows[index].start, end: windows[index].end,
               loop: el.hasAttribute("loop") };
    });
    for (const audio of document.querySelectorAll("audio")) {
      try { audio.pause(); } catch (e) { /* detached */ }
      audio.removeAttribute("autoplay");
    }
  }
  function layOver(v) {
    const { el, img } = v;
    const computed = getComputedStyle(el);
    const style = img.style;
    style.cssText = "";
    style.setProperty("position", "absolute");
    style.setProperty("left", `${el.offsetLeft}px`);
    style.setProperty("top", `${el.offsetTop}px`);
    style.setProperty("width", `${el.offsetWidth}px`);
    style.setProperty("height", `${el.offsetHeight}px`);
    style.setProperty("margin", "0");
    style.setProperty("box-sizing", computed.getPropertyValue("box-sizing"));
    for (const prop of VISUAL_PROPERTIES) style.setProperty(prop, computed.getPropertyValue(prop));
    style.setProperty("pointer-events", "none");
  }
  const frameCache = new Map();
  function loadFrame(url) {
    let promise = frameCache.get(url);
    if (!promise) {
      const img = new Image();
      img.src = url;
      promise = img.decode().catch(() => { recordError(new Error(`video frame ${url} failed to load`)); });
      frameCache.set(url, promise);
      if (frameCache.size > 64) frameCache.delete(frameCache.keys().next().value);
    }
    return promise;
  }
  // The frame a video shows at the next seek is fetched and decoded while this one is
  // drawn: seeks go forward by a steady step (several pages share the frames, so the step
  // is the last one seen). Only a head start: the next seek still waits for its frame
  // through loadFrame, which reports a failure (a prefetch never does).
  const prefetched = new Map();   // url -> Image, kept so its decode is not collected
  let lastSeekT = null;
  function frameUrl(v, t) {
    let k = Math.floor((t - v.start) * fps + 1e-9);
    k = v.loop ? k % v.info.count : Math.min(k, v.info.count - 1);
    return `${v.info.dir}/frame_${String(k).padStart(6, "0")}.${v.info.ext}`;
  }
  function prefetchFrame(url) {
    if (frameCache.has(url) || prefetched.has(url)) return;
    const img = new Image();
    img.src = url;
    img.decode().catch(() => {});
    prefetched.set(url, img);
    if (prefetched.size > 16) prefetched.delete(prefetched.keys().next().value);
  }
  function seekVideos(t) {
    const pending = [];
    const step = lastSeekT === null ? 0 : t - lastSeekT;
    lastSeekT = t;
    const next = step > 0 && step <= 8 / fps ? t + step : null;
    for (const v of videos || []) {
      if (!v.info) continue;
      // Half-open like every clip window ([start, end)); a clip that runs to the end of
      // the composition stays on its last frame (measured against HyperFrames: a video
      // shown at its end time was a whole window too long at a cut).
      const eps = 1e-6;
      const lastClip = v.end >= duration() - eps;
      const active = t >= v.start - eps && (t < v.end - eps || (lastClip && t <= v.end + eps));
      if (!active) {
        v.img.style.setProperty("visibility", "hidden", "important");
        continue;
      }
      const url = frameUrl(v, t);
      if (next !== null && next < v.end - eps && next >= v.start - eps) prefetchFrame(frameUrl(v, next));
      layOver(v);
      if (url !== v.url) {
        v.url = url;
        pending.push(loadFrame(url).then(() => {
          v.img.src = url;
          return v.img.decode().catch(() => { recordError(new Error(`video frame ${url} failed to decode`)); });
        }));
      }
    }
    return pending;
  }
  function pendingImages() {
    const pending = [];
    for (const img of document.images) if (!img.complete) pending.push(img.decode().catch(() => {}));
    return pending;
  }

  // ---- loads: a frame is captured only once everything it shows has loaded --------------
  // Chrome asks for a font face when layout first needs it, and for a CSS image when style
  // first applies it to a rendered element: both can happen at any seek (an element shown
  // mid-render), and a frame drawn before they arrive shows invisible text or no image.
  // How fast they arrive depends on how busy the machine is, so such a frame would depend
  // on the load (measured: style-3-prod's frame 5 drew a caption box without its text on a
  // quiet machine). So each seek forces style and layout and waits on what the page
  // reports: document.fonts (loading faces), <img> completion and the CSS images.
  const IMAGE_PROPERTY = /image|^(background|mask|-webkit-mask|border-image|list-style|content)$/;
  const cssImages = new Map();   // absolute URL -> {image, settled}
  let scannedSheets = -1;
  function cssImageUrls(style, base, out) {
    for (let i = 0; i < style.length; i++) {
      const name = style[i];
      if (!IMAGE_PROPERTY.test(name)) continue;
      const value = style.getPropertyValue(name);
      if (!value.includes("url(")) continue;
      for (const match of value.matchAll(/url\(\s*(?:"((?:[^"\\]|\\.)*)"|'((?:[^'\\]|\\.)*)'|([^)\s]*))\s*\)/g)) {
        const raw = match[1] ?? match[2] ?? match[3] ?? "";
        if (!raw || raw.startsWith("#")) continue;
        try { out.add(new URL(raw, base).href); } catch (e) { /* not a URL */ }
      }
    }
  }
  function ruleImageUrls(rules, base, out) {
    for (const rule of rules) {
      if (rule.style && !(rule instanceof CSSFontFaceRule)) cssImageUrls(rule.style, base, out);
      if (rule.cssRules) ruleImageUrls(rule.cssRules, base, out);
      if (rule.styleSheet) sheetImageUrls(rule.styleSheet, out);   // @import
    }
  }
  function sheetImageUrls(sheet, out) {
    let rules;
    try { rules = sheet.cssRules; } catch (e) { return; }   // cross-origin: not ours to read
    ruleImageUrls(rules, sheet.href || document.baseURI, out);
  }
  // Every image a style rule or a style="" attribute names is fetched and decoded as an
  // <img> (Chrome then reuses it for CSS: one resource per URL within a document), and the
  // seek waits until each has settled. The style sheets are read again when their number
  // changes; style="" attributes (which scripts may write) at every seek.
  function pendingCssImages(doc) {
    const urls = new Set();
    if (doc.styleSheets.length !== scannedSheets) {
      scannedSheets = doc.styleSheets.length;
      for (const sheet of doc.styleSheets) sheetImageUrls(sheet, urls);
    }
    for (const el of doc.querySelectorAll('[style*="url("]')) cssImageUrls(el.style, doc.baseURI, urls);
    for (const url of urls) {
      if (cssImages.has(url)) continue;
      const image = new Image();
      const entry = { image, settled: false, promise: null };
      image.src = url;
      entry.promise = image.decode().catch(() => {}).then(() => { entry.settled = true; });
      cssImages.set(url, entry);
    }
    const pending = [];
    for (const entry of cssImages.values()) if (!entry.settled) pending.push(entry.promise);
    return pending;
  }
  function sameOriginDocuments() {
    const docs = [document];
    for (let i = 0; i < window.frames.length; i++) {
      try {
        const doc = window.frames[i].document;
        if (doc && doc.documentElement) docs.push(doc);
      } catch (e) { /* cross-origin frame */ }
    }
    return docs;
  }
  // Style and layout, then wait for what they asked for; again until nothing is pending
  // (a face that arrives can change layout, which can need another face). Bounded: a load
  // that never finishes is left to the seek's call timeout, which names the frame.
  async function settleLoads() {
    for (let round = 0; round < 16; round++) {
      const pending = [];
      for (const doc of sameOriginDocuments()) {
        void doc.documentElement.getBoundingClientRect();   // forces style + layout
        if (doc.fonts && doc.fonts.status !== "loaded") pending.push(doc.fonts.ready);
        for (const img of doc.images) if (!img.complete) pending.push(img.decode().catch(() => {}));
        if (doc === document) pending.push(...pendingCssImages(doc));
      }
      if (!pending.length) return;
      await Promise.all(pending);
    }
  }

  // ---- raster scale: a frame must not depend on the frames drawn before it --------------
  // A paused animation of a transform keeps its layer marked as animating, and Chrome then
  // keeps whatever raster scale the layer had (no re-raster while a transform animates):
  // measured, frames after a chunk seam differed by up to 54/255. So between seeks those
  // animations are held "baked": their seeked value is written inline (!important, as
  // animations win over inline styles) and their effect detached; the next seek restores
  // both before the runtime seeks them (no cancel event: the runtime keeps tracking them).
  // Likewise will-change: transform freezes a layer's raster scale; offline it buys nothing.
  const TRANSFORM_PROPERTIES = new Set(["transform", "translate", "rotate", "scale",
    "offsetPath", "offsetDistance", "offsetRotate", "offsetAnchor", "offsetPosition"]);
  const baked = [];        // [animation, effect]
  const bakedStyles = new Map(); // element -> Map(css property -> [previous value, priority])
  function kebab(name) { return name.replace(/[A-Z]/g, (c) => "-" + c.toLowerCase()); }
  function transformProperties(animation) {
    const effect = animation.effect;
    if (!effect || !effect.target || effect.pseudoElement || !effect.getKeyframes) return [];
    const names = new Set();
    for (const frame of effect.getKeyframes()) {
      for (const key of Object.keys(frame)) if (TRANSFORM_PROPERTIES.has(key)) names.add(kebab(key));
    }
    return Array.from(names);
  }
  function unbake() {
    for (const [animation, effect] of baked.splice(0)) {
      try { animation.effect = effect; } catch (e) { /* gone */ }
    }
    for (const [el, props] of bakedStyles) {
      for (const [prop, [value, priority]] of props) {
        if (value) el.style.setProperty(prop, value, priority);
        else el.style.removeProperty(prop);
      }
    }
    bakedStyles.clear();
  }
  function bake() {
    const reads = [];
    for (const animation of document.getAnimations()) {
      const props = transformProperties(animation);
      if (!props.length || animation.playState !== "paused") continue;
      const el = animation.effect.target;
      const computed = getComputedStyle(el);
      reads.push([animation, el, props.map((p) => [p, computed.getPropertyValue(p)])]);
    }
    for (const [animation] of reads) {
      baked.push([animation, animation.effect]);
      animation.effect = null;
    }
    for (const [, el, values] of reads) {
      let saved = bakedStyles.get(el);
      if (!saved) { saved = new Map(); bakedStyles.set(el, saved); }
      for (const [prop, value] of values) {
        if (!saved.has(prop)) {
          saved.set(prop, [el.style.getPropertyValue(prop), el.style.getPropertyPriority(prop)]);
        }
        el.style.setProperty(prop, value, "important");
      }
    }
  }
  // ---- background-clip: text and invisible descendants ----------------------------------
  // The text mask of a `background-clip: text` box is painted from its descendants' text,
  // whatever their own opacity or transform. Chrome 156 (the headless shell HyperFrames
  // renders with) keeps a descendant at opacity 0 in that mask; the Lambda build (Chromium
  // 153) skips it, as it skips painting any layer below Blink's visibility threshold
  // (opacity < 0.0004): a word faded to 0 under a gradient-clipped heading vanished with
  // one build and not the other. Between the seek and the capture such descendants are
  // lifted just over the threshold (0.0005: under half an 8-bit step, so their own paint
  // stays invisible) and put back at the next seek, like the baked transforms above.
  const INVISIBLE_OPACITY = 0.0004;
  const LIFTED_OPACITY = "0.0005";
  let textClipPossible = false;
  const TEXT_CLIP_SOURCE = /(?:background-clip|backgroundClip)\s*["']?\s*[:=,]\s*["']?\s*(?:-webkit-)?text/i;
  function sheetMentionsTextClip(sheet) {
    let rules;
    try { rules = sheet.cssRules; } catch (e) { return false; }  // cross-origin sheet
    for (const rule of rules) if (TEXT_CLIP_SOURCE.test(rule.cssText)) return true;
    return false;
  }
  // Decided once, when ready: the page's markup, scripts and stylesheets name a text clip.
  function detectTextClip() {
    textClipPossible = TEXT_CLIP_SOURCE.test(document.documentElement.outerHTML)
      || Array.from(document.styleSheets).some(sheetMentionsTextClip);
  }
  function hasTextClip(style) {
    return /text/.test(style.backgroundClip || "") || /text/.test(style.webkitBackgroundClip || "");
  }
  function liftTextClipDescendants() {
    if (!textClipPossible) return;
    const lifts = [];
    for (const clipper of document.body ? document.body.querySelectorAll("*") : []) {
      if (!hasTextClip(getComputedStyle(clipper))) continue;
      for (const el of clipper.querySelectorAll("*")) {
        if (Number(getComputedStyle(el).opacity) < INVISIBLE_OPACITY) lifts.push(el);
      }
    }
    for (const el of lifts) {
      let saved = bakedStyles.get(el);
      if (!saved) { saved = new Map(); bakedStyles.set(el, saved); }
      if (!saved.has("opacity")) {
        saved.set("opacity", [el.style.getPropertyValue("opacity"), el.style.getPropertyPriority("opacity")]);
      }
      el.style.setProperty("opacity", LIFTED_OPACITY, "important");
    }
  }

  // Alpha outputs: the page's own html/body backgrounds go, as in HyperFrames' renders
  // (the composition root keeps its own).
  function clearPageBackground() {
    const style = document.createElement("style");
    style.setAttribute("data-hyperframes-lambda-transparent", "");
    style.textContent = "html, body { background: transparent !important; "
      + "background-color: transparent !important; background-image: none !important; }";
    (document.head || document.documentElement).appendChild(style);
  }
  function freezeRasterScale() {
    const style = document.createElement("style");
    style.setAttribute("data-hyperframes-lambda-engine", "");
    style.textContent = "*, *::before, *::after { will-change: auto !important; }";
    (document.head || document.documentElement).appendChild(style);
  }

  // ---- what the renderer calls ----------------------------------------------------------
  function missingTimelines() {
    const timelines = window.__timelines || {};
    const missing = [];
    const root = rootElement();
    for (const el of document.querySelectorAll("[data-composition-id]")) {
      // A root without a timeline is fine: the runtime builds one from its children.
      if (el === root || el.hasAttribute("data-no-timeline")) continue;
      const id = el.getAttribute("data-composition-id");
      if (!timelines[id] && !missing.includes(id)) missing.push(id);
    }
    return missing;
  }
  function throwIfErrors() {
    if (errors.length) throw new Error(errors.join("\n"));
  }

  window.__hfEngine = {
    status() {
      const bound = bindBridge();
      let imagesPending = 0;
      for (const img of document.images) if (!img.complete) imagesPending++;
      return {
        readyState: document.readyState,
        errors: errors.slice(),
        warnings: warnings.slice(),
        failedLoads: failedLoads.slice(),
        startupError: typeof window.__hfStartupError === "string" ? window.__hfStartupError : null,
        player: bound,
        renderReady: !!window.__renderReady,
        duration: bound ? duration() : 0,
        fonts: !document.fonts || document.fonts.status === "loaded",
        imagesPending,
        hasRoot: !!rootElement(),
        missingTimelines: missingTimelines(),
        timelines: Object.keys(window.__timelines || {}).length,
        declaredDuration: declaredDuration(),
      };
    },
    // Called once when ready: rebind timelines registered late, detach video sources.
    prepare() {
      bindBridge();
      if (typeof window.__hfForceTimelineRebind === "function") window.__hfForceTimelineRebind();
      prepareVideos();
      freezeRasterScale();
      detectTextClip();
      if (config.transparent) clearPageBackground();
      return { duration: duration() };
    },
    async seek(t) {
      throwIfErrors();
      unbake();
      window.__hf.seek(t);
      for (let i = 0; i < window.frames.length; i++) {
        try {
          const child = window.frames[i].__HF_VIRTUAL_TIME__;
          if (child) child.seekToTime(Math.max(0, t) * 1000);
        } catch (e) { /* cross-origin frame */ }
      }
      bake();
      liftTextClipDescendants();
      const settleStarted = wallNow();
      const frames = seekVideos(t);
      const pending = [...frames, ...pendingImages()];
      if (pending.length) await Promise.all(pending);
      await settleLoads();
      const settleMs = wallNow() - settleStarted;
      // New video frames: scenes that sample videos as textures redraw (runtime hook).
      if (frames.length && typeof window.__hfReseekGpu === "function") window.__hfReseekGpu(t);
      if (typeof window.__hfWaitForSeekCompletion === "function") await window.__hfWaitForSeekCompletion();
      const grading = window.__hf && window.__hf.colorGrading;
      if (grading && typeof grading.waitForActiveLuts === "function") await grading.waitForActiveLuts();
      throwIfErrors();
      // A shader transition in progress: the renderer draws once, then the page finishes
      // compositing (HyperFrames' page-side compositor) before the frame is captured.
      return { compositePending: !!window.__hf_page_composite_pending, settleMs };
    },
    async prepareComposite() {
      if (typeof window.__hf_page_composite_prepare === "function") await window.__hf_page_composite_prepare();
      return true;
    },
    resolveComposite() {
      if (typeof window.__hf_page_composite_resolve === "function") window.__hf_page_composite_resolve();
      throwIfErrors();
      return true;
    },
    media: describeMedia,
    get errors() { return errors.slice(); },
  };
})();
