/*
 * hyperframes-lambda page runtime. Injected before any page script (SPEC §3).
 *
 * Makes the page a pure function of time: window.__hf.seek(t) puts every animation
 * source (GSAP timelines, CSS animations/transitions, Web Animations, rAF users, custom
 * `hf-seek` listeners) into the state of time t, and virtual clocks plus a PRNG reseeded
 * from t make Date, performance.now and Math.random repeatable whatever frames were
 * rendered before.
 */
(() => {
  "use strict";
  if (window.__hf) return;

  const EPOCH_MS = 1704067200000; // 2024-01-01T00:00:00Z: a fixed wall clock for Date
  let virtualSeconds = 0;

  // ---- seeded randomness (sfc32), reseeded from the frame time on every seek -------
  let ra = 0, rb = 0, rc = 0, rd = 0;
  function reseed(seed) {
    ra = 0x9e3779b9; rb = 0x243f6a88; rc = 0xb7e15162; rd = seed >>> 0;
    for (let i = 0; i < 15; i++) nextUint32();
  }
  function nextUint32() {
    ra >>>= 0; rb >>>= 0; rc >>>= 0; rd >>>= 0;
    let t = (ra + rb) | 0;
    ra = rb ^ (rb >>> 9);
    rb = (rc + (rc << 3)) | 0;
    rc = (rc << 21) | (rc >>> 11);
    rd = (rd + 1) | 0;
    t = (t + rd) | 0;
    rc = (rc + t) | 0;
    return t >>> 0;
  }
  function seedForTime(t) {
    // Microsecond resolution keeps frames of every fps distinct.
    return (Math.round(t * 1e6) ^ 0x5f3759df) >>> 0;
  }
  reseed(seedForTime(0));
  Math.random = () => nextUint32() / 4294967296;
  if (window.crypto && crypto.getRandomValues) {
    const fill = (array) => {
      const bytes = new Uint8Array(array.buffer, array.byteOffset, array.byteLength);
      for (let i = 0; i < bytes.length; i++) bytes[i] = nextUint32() & 0xff;
      return array;
    };
    try {
      Object.defineProperty(Crypto.prototype, "getRandomValues", { value: fill });
    } catch (e) { /* leave native: not fatal */ }
  }

  // ---- virtual clocks ----------------------------------------------------------------
  const RealDate = Date;
  function VirtualDate(...args) {
    if (!new.target) return new RealDate(EPOCH_MS + virtualSeconds * 1000).toString();
    if (args.length === 0) return new RealDate(EPOCH_MS + virtualSeconds * 1000);
    return new RealDate(...args);
  }
  VirtualDate.prototype = RealDate.prototype;
  VirtualDate.now = () => EPOCH_MS + virtualSeconds * 1000;
  VirtualDate.parse = RealDate.parse;
  VirtualDate.UTC = RealDate.UTC;
  window.Date = VirtualDate;
  const virtualNowMs = () => virtualSeconds * 1000;
  try {
    Object.defineProperty(Performance.prototype, "now", { value: virtualNowMs });
  } catch (e) {
    performance.now = virtualNowMs;
  }

  // ---- requestAnimationFrame: queued, flushed once per seek with the seek time -------
  let rafQueue = new Map();
  let rafNextId = 1;
  window.requestAnimationFrame = (callback) => {
    const id = rafNextId++;
    rafQueue.set(id, callback);
    return id;
  };
  window.cancelAnimationFrame = (id) => { rafQueue.delete(id); };
  function flushAnimationFrames(timestampMs) {
    const due = rafQueue;
    rafQueue = new Map();
    for (const callback of due.values()) {
      try { callback(timestampMs); } catch (e) { recordError(e); }
    }
  }

  // ---- GSAP: 2D transforms only ------------------------------------------------------
  // GSAP's default force3D:"auto" writes translate3d() while a tween is in progress, which
  // gives the element a composited layer whose raster scale Chrome keeps from earlier
  // frames: the same frame would render differently depending on what was rendered
  // before it (measured: up to 54/255 on a scaling element at a chunk seam). Configure
  // GSAP the moment it is defined, before any page script builds a timeline.
  function configureGsap(gsap) {
    try { if (gsap && typeof gsap.config === "function") gsap.config({ force3D: false }); }
    catch (e) { /* not GSAP after all */ }
  }
  (() => {
    let value = window.gsap;
    if (value) { configureGsap(value); return; }
    try {
      Object.defineProperty(window, "gsap", {
        configurable: true,
        enumerable: true,
        get() { return value; },
        set(next) { value = next; configureGsap(next); },
      });
    } catch (e) { /* a page that defined gsap itself first */ }
  })();

  // ---- errors: surfaced to the renderer, which fails the render with them ------------
  const errors = [];
  function recordError(e, where) {
    const message = (e && (e.stack || e.message)) || String(e);
    errors.push(where ? `${where}: ${message}` : message);
  }
  window.addEventListener("error", (event) => {
    const tag = event.target && event.target.tagName;
    // Media are never decoded by Chrome (sound is mixed offline, video frames extracted
    // by the planner, which reports unusable media by name), so their errors are not ours.
    if (tag === "VIDEO" || tag === "AUDIO" || tag === "SOURCE" || tag === "TRACK") return;
    if (event.target && event.target !== window && (event.target.src || event.target.href)) {
      const url = event.target.src || event.target.href;
      errors.push(`failed to load <${event.target.tagName.toLowerCase()}> ${url}`);
      return;
    }
    const where = event.filename ? `${event.filename}:${event.lineno}:${event.colno}` : "";
    errors.push(`${where ? where + ": " : ""}${event.message}`);
  }, true);
  window.addEventListener("unhandledrejection", (event) => recordError(event.reason, "unhandled rejection"));

  // ---- composition model -------------------------------------------------------------
  const HIDDEN_ATTR = "data-hf-hidden";
  let root = null;
  let clips = [];          // {el, start, end} in absolute seconds, document order
  let rootTimeline = null;
  let duration = 0;

  function numberAttr(el, name) {
    const raw = el.getAttribute(name);
    if (raw === null || raw.trim() === "") return null;
    const value = Number(raw);
    return Number.isFinite(value) ? value : NaN;
  }

  function timedAncestor(el) {
    for (let p = el.parentElement; p; p = p.parentElement) {
      if (p === root) return null;
      if (p.hasAttribute("data-start")) return p;
    }
    return null;
  }

  function resolveClips() {
    const byId = new Map();
    const all = Array.from(root.querySelectorAll("[data-start]"));
    const resolved = new Map();
    const resolving = new Set();

    function nestedDuration(el) {
      const id = el.getAttribute("data-composition-id");
      const tl = id && window.__timelines && window.__timelines[id];
      return tl && typeof tl.duration === "function" ? tl.duration() : null;
    }

    function resolve(el) {
      if (resolved.has(el)) return resolved.get(el);
      if (resolving.has(el)) throw new Error(`data-start references form a cycle at #${el.id}`);
      resolving.add(el);
      const parent = timedAncestor(el);
      const base = parent ? resolve(parent).start : 0;
      const raw = (el.getAttribute("data-start") || "0").trim();
      let start;
      const asNumber = Number(raw);
      if (raw !== "" && Number.isFinite(asNumber)) {
        start = base + asNumber;
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
      if (length === null) length = nestedDuration(el);
      if (Number.isNaN(length) || (length !== null && length < 0)) {
        throw new Error(`data-duration="${el.getAttribute("data-duration")}" on <${el.tagName.toLowerCase()}> is not a non-negative number`);
      }
      let end = length === null ? Infinity : start + length;
      if (parent) end = Math.min(end, resolve(parent).end);
      const clip = { el, start, end };
      resolving.delete(el);
      resolved.set(el, clip);
      return clip;
    }

    for (const el of all) {
      if (el.id) byId.set(el.id, el);
    }
    return all.map(resolve);
  }

  function buildRootTimeline() {
    const timelines = window.__timelines || {};
    const rootId = root.getAttribute("data-composition-id");
    let tl = timelines[rootId] || null;
    const nested = clips.filter((c) => {
      const id = c.el.getAttribute("data-composition-id");
      return id && id !== rootId && timelines[id];
    });
    if (nested.length && !tl && window.gsap) tl = window.gsap.timeline({ paused: true });
    for (const clip of nested) {
      const child = timelines[clip.el.getAttribute("data-composition-id")];
      if (child === tl || child.parent === tl) continue;
      if (child.parent && typeof child.parent.remove === "function") child.parent.remove(child);
      child.paused(false);
      tl.add(child, clip.start);
    }
    if (tl && typeof tl.pause === "function") tl.pause();
    return tl;
  }

  function computeDuration() {
    const declared = numberAttr(root, "data-duration");
    const timelineLength = rootTimeline && typeof rootTimeline.duration === "function" ? rootTimeline.duration() : 0;
    return Math.max(declared && declared > 0 ? declared : 0, timelineLength || 0);
  }

  function clipStartFor(el) {
    for (let p = el; p && p !== root; p = p.parentElement) {
      const clip = clipByElement.get(p);
      if (clip) return clip.start;
    }
    return 0;
  }
  let clipByElement = new Map();

  // ---- media: sound is mixed offline, video pixels come from pre-extracted frames ----
  // window.__hfVideoFrames (set by the renderer from the plan) lists, per <video> in
  // document order, {dir, count, ext}. A video's frame for time t is shown as its poster:
  // the element keeps its box, transform, opacity, filter, radius and object-fit, and
  // Chrome never decodes the video itself.
  let videos = [];
  function mediaStart(el) { const v = numberAttr(el, "data-media-start"); return v && v > 0 ? v : 0; }
  function playbackRate(el) { const v = numberAttr(el, "data-playback-rate"); return v && v > 0 ? v : 1; }
  function mediaSource(el) {
    if (el.getAttribute("src")) return new URL(el.getAttribute("src"), document.baseURI).href;
    const source = el.querySelector("source[src]");
    return source ? new URL(source.getAttribute("src"), document.baseURI).href : null;
  }
  function describeMedia() {
    const out = [];
    for (const kind of ["audio", "video"]) {
      const elements = Array.from(document.querySelectorAll(kind));
      elements.forEach((el, index) => {
        const clip = clipByElement.get(el);
        const volume = numberAttr(el, "data-volume");
        out.push({
          kind, index, id: el.id || null, src: el.__hfSrc || mediaSource(el),
          start: clip ? clip.start : 0,
          end: clip && Number.isFinite(clip.end) ? clip.end : null,
          mediaStart: mediaStart(el), playbackRate: playbackRate(el),
          volume: volume === null || Number.isNaN(volume) ? 1 : volume,
          loop: el.hasAttribute("loop"), muted: el.hasAttribute("muted") || el.muted,
        });
      });
    }
    return out;
  }
  function prepareMedia() {
    for (const el of document.querySelectorAll("audio, video")) {
      el.__hfSrc = mediaSource(el);
      el.pause();
      el.removeAttribute("autoplay");
    }
    const frames = window.__hfVideoFrames || [];
    videos = Array.from(document.querySelectorAll("video")).map((el, index) => {
      const info = frames[index] || null;
      if (info) {
        // Detach the real media so Chrome shows the poster we set per frame.
        el.removeAttribute("src");
        for (const source of el.querySelectorAll("source")) source.remove();
        el.preload = "none";
        el.load();
      }
      const clip = clipByElement.get(el);
      return { el, info, start: clip ? clip.start : 0, end: clip ? clip.end : Infinity,
               rate: playbackRate(el), loop: el.hasAttribute("loop") };
    });
  }
  const posterCache = new Map();
  function loadPoster(url) {
    let promise = posterCache.get(url);
    if (!promise) {
      const img = new Image();
      img.src = url;
      promise = img.decode().catch(() => { recordError(new Error(`video frame ${url} failed to load`)); });
      posterCache.set(url, promise);
      if (posterCache.size > 64) posterCache.delete(posterCache.keys().next().value);
    }
    return promise;
  }
  function seekVideos(t, fps) {
    const pending = [];
    for (const v of videos) {
      if (!v.info || v.info.count <= 0) continue;
      if (t < v.start || t > v.end) continue;
      let k = Math.floor((t - v.start) * fps + 1e-9);
      k = v.loop ? k % v.info.count : Math.min(k, v.info.count - 1);
      const url = `${v.info.dir}/frame_${String(k).padStart(6, "0")}.${v.info.ext}`;
      pending.push(loadPoster(url).then(() => { v.el.poster = url; }));
    }
    return pending;
  }

  // ---- seeking -----------------------------------------------------------------------
  function applyVisibility(t) {
    for (const clip of clips) {
      const visible = clip.start <= t && t < clip.end;
      if (visible) clip.el.removeAttribute(HIDDEN_ATTR);
      else clip.el.setAttribute(HIDDEN_ATTR, "");
    }
  }

  // Animations we hold "baked": a paused animation on a transform still marks its layer
  // as potentially animating, and Chrome then keeps whatever raster scale the layer had
  // (cc avoids re-rastering during transform animations), so a frame's pixels would
  // depend on the frames rendered before it. For those animations we read the seeked
  // value, cancel the animation and write the value inline (!important, as animations
  // win over inline styles); the next seek restores the inline styles and revives them.
  const TRANSFORM_PROPERTIES = new Set(["transform", "translate", "rotate", "scale",
    "offsetPath", "offsetDistance", "offsetRotate", "offsetAnchor", "offsetPosition"]);
  const bakedAnimations = new Set();
  const bakedStyles = new Map(); // element -> Map(css property -> [previous value, priority])

  function kebab(name) { return name.replace(/[A-Z]/g, (c) => "-" + c.toLowerCase()); }

  function transformProperties(anim) {
    const effect = anim.effect;
    if (!effect || !effect.target || effect.pseudoElement || !effect.getKeyframes) return [];
    const names = new Set();
    for (const frame of effect.getKeyframes()) {
      for (const key of Object.keys(frame)) if (TRANSFORM_PROPERTIES.has(key)) names.add(kebab(key));
    }
    return Array.from(names);
  }

  function unbakeAnimations() {
    for (const [el, props] of bakedStyles) {
      for (const [prop, [value, priority]] of props) {
        if (value) el.style.setProperty(prop, value, priority);
        else el.style.removeProperty(prop);
      }
    }
    bakedStyles.clear();
  }

  function bakeAnimations() {
    const reads = [];
    for (const anim of new Set([...document.getAnimations(), ...bakedAnimations])) {
      const props = transformProperties(anim);
      if (!props.length || anim.playState === "finished") continue;
      const el = anim.effect.target;
      const computed = getComputedStyle(el);
      reads.push([anim, el, props.map((p) => [p, computed.getPropertyValue(p)])]);
    }
    for (const [anim] of reads) { anim.cancel(); bakedAnimations.add(anim); }
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

  function seekAnimations(t) {
    for (const anim of new Set([...document.getAnimations(), ...bakedAnimations])) {
      const target = anim.effect && anim.effect.target;
      if (typeof CSSTransition !== "undefined" && anim instanceof CSSTransition) {
        // A transition's start is the moment a style changed, which has no composition
        // time: show its end state, the same whatever order frames are rendered in.
        anim.finish();
        continue;
      }
      if (target && !target.isConnected) { bakedAnimations.delete(anim); continue; }
      anim.pause();
      const start = target ? clipStartFor(target) : 0;
      anim.currentTime = (t - start) * 1000;
    }
  }

  function pendingImages() {
    const pending = [];
    for (const img of document.images) {
      if (!img.complete) pending.push(img.decode().catch(() => {}));
    }
    return pending;
  }

  function seek(t, fps) {
    if (!ready) throw new Error("__hf.seek called before the composition is ready");
    virtualSeconds = t;
    reseed(seedForTime(t));
    unbakeAnimations();
    if (rootTimeline) rootTimeline.totalTime(t, false);
    applyVisibility(t);
    seekAnimations(t);
    for (const instance of window.__hfAnime || []) {
      try { instance.seek(t * 1000); } catch (e) { recordError(e, "anime.js seek"); }
    }
    for (const instance of window.__hfLottie || []) {
      try { instance.goToAndStop(t * 1000, false); } catch (e) { recordError(e, "lottie seek"); }
    }
    window.dispatchEvent(new CustomEvent("hf-seek", { detail: { time: t } }));
    flushAnimationFrames(t * 1000);
    // Timelines may have changed classes/styles that start CSS animations: seek again.
    seekAnimations(t);
    bakeAnimations();
    if (errors.length) throw new Error(errors.join("\n"));
    const pending = [...seekVideos(t, fps || 30), ...pendingImages()];
    return pending.length ? Promise.all(pending).then(() => {
      if (errors.length) throw new Error(errors.join("\n"));
      return true;
    }) : true;
  }

  // ---- readiness ---------------------------------------------------------------------
  let ready = false;
  let failure = null;
  function initialise() {
    root = document.querySelector("[data-composition-id]");
    if (!root) { failure = "no element with data-composition-id"; return; }
    const style = document.createElement("style");
    // will-change: transform freezes a layer's raster scale at whatever it first was,
    // which makes pixels depend on frame order; it buys nothing when rendering offline.
    style.textContent = `[${HIDDEN_ATTR}], [${HIDDEN_ATTR}] * { visibility: hidden !important; }
      *, *::before, *::after { will-change: auto !important; }`;
    document.head.appendChild(style);
    try {
      clips = resolveClips();
      clipByElement = new Map(clips.map((c) => [c.el, c]));
      rootTimeline = buildRootTimeline();
      duration = computeDuration();
      prepareMedia();
    } catch (e) {
      failure = (e && e.message) || String(e);
      return;
    }
    const fontsReady = document.fonts ? document.fonts.ready : Promise.resolve();
    Promise.all([fontsReady, ...pendingImages()]).then(() => { ready = true; });
  }
  // Initialised from the renderer's first status poll after the load event has been fully
  // dispatched (so every page load handler ran first). Not from a timer: under BeginFrame
  // control timers of an idle page may not fire.
  let initialised = false;
  function initialiseOnce() {
    if (initialised || document.readyState !== "complete") return;
    initialised = true;
    try { initialise(); } catch (e) { failure = String((e && e.message) || e); }
  }

  window.__hf = {
    get duration() { return duration; },
    get ready() { return ready; },
    get errors() { return errors.slice(); },
    get failure() { return failure; },
    // One call the renderer polls while pumping frames (rAF-free, SPEC §3).
    status() { initialiseOnce(); return { ready, failure, errors: errors.slice(), duration }; },
    seek,
    media: describeMedia,
  };
})();
