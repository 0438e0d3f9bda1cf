/*
 * Sub-composition script scope (hyperframes-lambda compile step).
 *
 * A sub-composition's scripts are moved to the end of the entry page's body and each runs
 * in its own function with `document` and `gsap` scoped to its host element: selectors
 * find the composition's own elements first (two compositions may both use `.title`),
 * and declarations such as `const root` of two compositions do not collide.
 */
(function () {
  if (window.__hfScopeComposition) return;
  function hostFor(id) {
    var all = document.querySelectorAll("[data-composition-id]");
    for (var i = 0; i < all.length; i++) {
      if (all[i].getAttribute("data-composition-id") === id) return all[i];
    }
    return null;
  }
  function within(root, selector) {
    try {
      var found = Array.prototype.slice.call(root.querySelectorAll(selector));
      if (root.matches(selector)) found.unshift(root);
      return found;
    } catch (e) {
      return [];
    }
  }
  function scopeDocument(root) {
    return new Proxy(document, {
      get: function (target, prop) {
        if (prop === "querySelector") {
          return function (selector) {
            var found = within(root, selector);
            return found.length ? found[0] : target.querySelector(selector);
          };
        }
        if (prop === "querySelectorAll") {
          return function (selector) {
            var found = within(root, selector);
            return found.length ? found : target.querySelectorAll(selector);
          };
        }
        if (prop === "getElementById") {
          return function (id) {
            var found = within(root, '[id="' + String(id).replace(/["\\]/g, "\\$&") + '"]');
            return found.length ? found[0] : target.getElementById(id);
          };
        }
        var value = Reflect.get(target, prop);
        return typeof value === "function" ? value.bind(target) : value;
      },
      set: function (target, prop, value) {
        return Reflect.set(target, prop, value);
      },
    });
  }
  var TWEENS = ["to", "from", "fromTo", "set"];
  function scopeGsap(gsap, root) {
    function targets(value) {
      if (typeof value !== "string") return value;
      var found = within(root, value);
      return found.length ? found : value;
    }
    function scoped(fn, self) {
      return function () {
        var args = Array.prototype.slice.call(arguments);
        args[0] = targets(args[0]);
        return fn.apply(self || this, args);
      };
    }
    function scopeTimeline(timeline) {
      if (!timeline || timeline.__hfScoped) return timeline;
      TWEENS.forEach(function (name) {
        if (typeof timeline[name] === "function") timeline[name] = scoped(timeline[name]);
      });
      try { Object.defineProperty(timeline, "__hfScoped", { value: true }); } catch (e) { /* frozen */ }
      return timeline;
    }
    return new Proxy(gsap, {
      get: function (target, prop) {
        var value = Reflect.get(target, prop);
        if (TWEENS.indexOf(prop) >= 0 && typeof value === "function") return scoped(value, target);
        if (prop === "timeline" && typeof value === "function") {
          return function () { return scopeTimeline(value.apply(target, arguments)); };
        }
        return typeof value === "function" ? value.bind(target) : value;
      },
    });
  }
  window.__hfScopeComposition = function (id) {
    var root = hostFor(id);
    if (!root) return { document: document, gsap: window.gsap };
    return { document: scopeDocument(root), gsap: window.gsap ? scopeGsap(window.gsap, root) : window.gsap };
  };
  window.__hfCompositionScriptFailed = function (id, error) {
    var report = window.__hfEngineReportError;
    if (typeof report === "function") report("sub-composition " + JSON.stringify(id) + " script", error);
    else console.error("[hyperframes] composition " + id + " script error", error);
  };
})();
