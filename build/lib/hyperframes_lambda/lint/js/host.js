// What Node gives HyperFrames' linter, answered in a page (loaded before the linter).
//
// The linter's modules import a few Node built-ins; the import map sends each to a small
// module here that forwards to `globalThis.__hfLintHost`:
// - fs: a read-only view of the project, from the snapshot the Python side took
//   (/__hf_lint__/project.json: every path's kind, real path and, for directories, their
//   entries in readdir order); file contents are read on demand from the page server.
// - path: path-browserify (Node's posix path, ported), cwd = the project directory.
// - postcss (and any CommonJS the linter needs): a minimal CommonJS loader over the
//   pinned package files, honouring each package's "browser" field.
// - child_process: no programs run here (ffprobe-based checks find no ffprobe and skip,
//   as the reference CLI does on a machine without ffprobe).
"use strict";
(() => {
  const errors = [];
  window.addEventListener("error", (event) => {
    errors.push(String(event.error && event.error.stack ? event.error.stack : event.message));
  });
  window.addEventListener("unhandledrejection", (event) => {
    const reason = event.reason;
    errors.push(String(reason && reason.stack ? reason.stack : reason));
  });

  function getJson(url) {
    const xhr = new XMLHttpRequest();
    xhr.open("GET", url, false);
    xhr.send();
    if (xhr.status !== 200) throw new Error(`${url}: HTTP ${xhr.status}`);
    return JSON.parse(xhr.responseText);
  }

  function getBytes(url) {
    // Raw bytes (x-user-defined maps each byte to one char), so decoding is Node's:
    // UTF-8 with replacement, a byte-order mark kept.
    const xhr = new XMLHttpRequest();
    xhr.open("GET", url, false);
    xhr.overrideMimeType("text/plain; charset=x-user-defined");
    xhr.send();
    if (xhr.status !== 200) return null;
    const text = xhr.responseText;
    const bytes = new Uint8Array(text.length);
    for (let i = 0; i < text.length; i++) bytes[i] = text.charCodeAt(i) & 0xff;
    return bytes;
  }

  const project = getJson("/__hf_lint__/project.json");
  const cjs = getJson("/__hf_lint__/cjs.json");

  globalThis.process = {
    env: {},
    platform: "linux",
    arch: "x64",
    argv: [],
    cwd: () => project.cwd,
  };

  // --- CommonJS -------------------------------------------------------------------
  const cache = new Map();
  function dirOf(id) {
    return id.slice(0, id.lastIndexOf("/"));
  }
  function joinId(base, rel) {
    const parts = base.split("/");
    for (const part of rel.split("/")) {
      if (part === "..") parts.pop();
      else if (part !== "." && part !== "") parts.push(part);
    }
    return parts.join("/");
  }
  function resolveId(fromId, spec) {
    const pkg = fromId.split("/")[0];
    const banned = cjs.browserFalse[pkg] || [];
    let id;
    if (spec.startsWith("./") || spec.startsWith("../")) {
      const base = joinId(dirOf(fromId), spec);
      id = [base, `${base}.js`, `${base}.cjs`, `${base}/index.js`].find((c) => c in cjs.modules);
      if (id === undefined && banned.includes(`${base}.js`)) return false;
    } else {
      if (banned.includes(spec)) return false;
      id = cjs.names[spec];
    }
    if (id === undefined) {
      const error = new Error(`Cannot find module '${spec}' (from ${fromId})`);
      error.code = "MODULE_NOT_FOUND";
      throw error;
    }
    return banned.includes(id) ? false : id;
  }
  function load(id) {
    if (cache.has(id)) return cache.get(id).exports;
    const module = { exports: {} };
    cache.set(id, module);
    const factory = new Function("module", "exports", "require", cjs.modules[id] + `\n//# sourceURL=hf-lint:///${id}`);
    factory(module, module.exports, (spec) => {
      const target = resolveId(id, spec);
      return target === false ? {} : load(target);
    });
    return module.exports;
  }
  function requireName(name) {
    return load(resolveId("<page>/", name));
  }

  // --- fs ---------------------------------------------------------------------------
  const path = requireName("path");
  function fsError(code, syscall, p) {
    const error = new Error(`${code}: ${syscall} '${p}'`);
    error.code = code;
    error.syscall = syscall;
    error.path = p;
    return error;
  }
  function entry(p) {
    return Object.prototype.hasOwnProperty.call(project.paths, p) ? project.paths[p] : undefined;
  }
  function lookup(p, syscall) {
    const found = entry(path.resolve(String(p)));
    if (found === undefined) throw fsError("ENOENT", syscall, p);
    return found;
  }
  const fds = new Map();
  let nextFd = 100;
  function contents(found, p) {
    if (found.t !== "f") throw fsError("EISDIR", "read", p);
    const bytes = getBytes(found.url);
    if (bytes === null) throw fsError("EIO", "read", p);
    return bytes;
  }
  function decode(bytes, options) {
    const encoding = typeof options === "string" ? options : options && options.encoding;
    if (!encoding) return bytes;
    if (!/^utf-?8$/i.test(encoding)) throw new Error(`fs: encoding ${encoding} is not supported here`);
    return new TextDecoder("utf-8", { ignoreBOM: true }).decode(bytes);
  }
  class Dirent {
    constructor(name, kind) {
      this.name = name;
      this.kind = kind;
    }
    isFile() { return this.kind === "f"; }
    isDirectory() { return this.kind === "d"; }
    isSymbolicLink() { return this.kind === "l"; }
  }
  const fs = {
    constants: { O_RDONLY: 0, O_NONBLOCK: 2048, F_OK: 0, R_OK: 4, W_OK: 2, X_OK: 1 },
    existsSync(p) {
      try {
        return entry(path.resolve(String(p))) !== undefined;
      } catch {
        return false;
      }
    },
    accessSync(p, mode) {
      const found = lookup(p, "access");
      if (mode & 1 && found.t !== "d") throw fsError("EACCES", "access", p);
    },
    realpathSync(p) {
      return lookup(p, "realpath").real;
    },
    statSync(p) {
      const found = lookup(p, "stat");
      return { isFile: () => found.t === "f", isDirectory: () => found.t === "d" };
    },
    readdirSync(p, options) {
      const found = lookup(p, "scandir");
      if (found.t !== "d") throw fsError("ENOTDIR", "scandir", p);
      const withTypes = options && typeof options === "object" && options.withFileTypes;
      return found.list.map(([name, kind]) => (withTypes ? new Dirent(name, kind) : name));
    },
    openSync(p) {
      const found = lookup(p, "open");
      const fd = nextFd++;
      fds.set(fd, { found, p });
      return fd;
    },
    fstatSync(fd) {
      const open = fds.get(fd);
      if (!open) throw fsError("EBADF", "fstat", String(fd));
      return { isFile: () => open.found.t === "f", isDirectory: () => open.found.t === "d" };
    },
    closeSync(fd) {
      fds.delete(fd);
    },
    readFileSync(target, options) {
      if (typeof target === "number") {
        const open = fds.get(target);
        if (!open) throw fsError("EBADF", "read", String(target));
        return decode(contents(open.found, open.p), options);
      }
      return decode(contents(lookup(target, "open"), target), options);
    },
  };

  // --- crypto: sha256 only (the linter's content digests) -----------------------------
  const K = new Uint32Array([
    0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4, 0xab1c5ed5,
    0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174,
    0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da,
    0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7, 0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967,
    0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85,
    0xa2bfe8a1, 0xa81a664b, 0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070,
    0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3,
    0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7, 0xc67178f2,
  ]);
  function sha256(bytes) {
    const bitLength = bytes.length * 8;
    const padded = new Uint8Array(((bytes.length + 9 + 63) >> 6) << 6);
    padded.set(bytes);
    padded[bytes.length] = 0x80;
    const view = new DataView(padded.buffer);
    view.setUint32(padded.length - 8, Math.floor(bitLength / 0x100000000));
    view.setUint32(padded.length - 4, bitLength >>> 0);
    const h = new Uint32Array([
      0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a, 0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19,
    ]);
    const w = new Uint32Array(64);
    const rotr = (x, n) => (x >>> n) | (x << (32 - n));
    for (let offset = 0; offset < padded.length; offset += 64) {
      for (let i = 0; i < 16; i++) w[i] = view.getUint32(offset + i * 4);
      for (let i = 16; i < 64; i++) {
        const s0 = rotr(w[i - 15], 7) ^ rotr(w[i - 15], 18) ^ (w[i - 15] >>> 3);
        const s1 = rotr(w[i - 2], 17) ^ rotr(w[i - 2], 19) ^ (w[i - 2] >>> 10);
        w[i] = (w[i - 16] + s0 + w[i - 7] + s1) >>> 0;
      }
      let [a, b, c, d, e, f, g, hh] = h;
      for (let i = 0; i < 64; i++) {
        const t1 = (hh + (rotr(e, 6) ^ rotr(e, 11) ^ rotr(e, 25)) + ((e & f) ^ (~e & g)) + K[i] + w[i]) >>> 0;
        const t2 = ((rotr(a, 2) ^ rotr(a, 13) ^ rotr(a, 22)) + ((a & b) ^ (a & c) ^ (b & c))) >>> 0;
        hh = g; g = f; f = e; e = (d + t1) >>> 0; d = c; c = b; b = a; a = (t1 + t2) >>> 0;
      }
      [a, b, c, d, e, f, g, hh].forEach((v, i) => { h[i] = (h[i] + v) >>> 0; });
    }
    return Array.from(h, (v) => v.toString(16).padStart(8, "0")).join("");
  }
  function createHash(algorithm) {
    if (String(algorithm).toLowerCase() !== "sha256") throw new Error(`crypto: ${algorithm} is not supported here`);
    const parts = [];
    const hash = {
      update(data) {
        parts.push(typeof data === "string" ? new TextEncoder().encode(data) : new Uint8Array(data));
        return hash;
      },
      digest(encoding) {
        if (encoding !== "hex") throw new Error("crypto: only hex digests are supported here");
        const all = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
        let at = 0;
        for (const part of parts) { all.set(part, at); at += part.length; }
        return sha256(all);
      },
    };
    return hash;
  }

  // --- child_process: nothing runs -----------------------------------------------------
  function noProgram(file) {
    return fsError("ENOENT", `spawn ${file}`, file);
  }
  const childProcess = {
    execFile(file, _args, options, callback) {
      const done = typeof options === "function" ? options : callback;
      setTimeout(() => done(noProgram(file), "", ""), 0);
    },
    execFileSync(file) {
      throw noProgram(file);
    },
  };

  // --- module: the CommonJS `require` the bundles create -----------------------------
  function createRequire() {
    const nodeRequire = (name) => {
      if (name === "util") return { deprecate: (fn) => fn };
      const error = new Error(`Cannot find module '${name}'`);
      error.code = "MODULE_NOT_FOUND";
      throw error;
    };
    nodeRequire.resolve = (name) => nodeRequire(name);
    return nodeRequire;
  }

  globalThis.__hfLintHost = {
    errors,
    fs,
    path,
    childProcess,
    createHash,
    createRequire,
    require: requireName,
    fileURLToPath: (url) => decodeURIComponent(new URL(String(url)).pathname),
    pathToFileURL: (p) => new URL(`file://${encodeURI(p)}`),
  };
})();
