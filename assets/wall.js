/* IOC Wall browser side: refresh gate, kiosk rotation, reconnect badge, recovery and the clock.
 * Nothing here needs a hand on the keyboard: a wall browser is left alone for weeks. */
(function () {
  "use strict";
  var W = (window.iocWall = window.iocWall || {});
  W.loadedAt = Date.now();
  W.inflight = {};
  W.requests = 0; // refresh round trips sent since the page loaded
  // A round trip not answered by then is taken as lost (server restart): the next tick retries.
  var INFLIGHT_LIMIT_MS = 15000;
  var HEALTH_POLL_MS = 4000;
  var PAGE_WATCHDOG_MS = 12000;

  function noUpdate() {
    return window.dash_clientside.no_update;
  }

  /* Dash records every input change made in the browser (each interval tick of every screen)
   * in its undo history and never drops one (plotly/dash#727): about 300 bytes a tick, without
   * end on a wall left running. The undo toolbar is off; only the newest entry is of use (Dash's
   * revert after a failed callback), so the rest is let go at each tick. */
  var UNDO_KEPT = 1;
  function forgetUndoHistory() {
    var stores = window.dash_stores || [];
    for (var i = 0; i < stores.length; i++) {
      var history = stores[i].getState().history;
      var past = history && history.past;
      if (Array.isArray(past) && past.length > UNDO_KEPT) {
        past.splice(0, past.length - UNDO_KEPT);
      }
    }
  }

  /* Lets a tick through only for the visible screen and only when its last round trip has
   * finished (see the fetch wrapper below), so slow queries never stack callbacks and hidden
   * kiosk screens cost nothing. */
  W.gate = function (name, n, current) {
    forgetUndoHistory();
    if (current !== name) {
      return noUpdate();
    }
    var since = W.inflight[name];
    if (since && Date.now() - since < INFLIGHT_LIMIT_MS) {
      return noUpdate();
    }
    if (Date.now() < W.retryAt) {
      return noUpdate(); // the server failed: wait for this screen's own moment to try again
    }
    W.inflight[name] = Date.now();
    return { n: n || 0, w: window.innerWidth, t: Date.now() };
  };

  /* Past the reload age, reload once the server answers (at a rotation boundary on a kiosk),
   * which bounds the browser's memory over days of running, on every page, rotating or not;
   * then the next screen of a kiosk. Each page waits a random part of RELOAD_SPREAD of that age
   * longer, so walls started together do not all reload in the same second. */
  var RELOAD_SPREAD = 0.05;
  W.reloadSpread = Math.random() * RELOAD_SPREAD;
  W.rotate = function (n, config, current) {
    var screens = (config && config.screens) || [];
    if (!screens.length) {
      return [noUpdate(), []];
    }
    var age = config.reload_after_ms * (1 + W.reloadSpread);
    if (config.reload_after_ms && Date.now() - W.loadedAt > age) {
      reloadWhenHealthy();
    }
    if (screens.length === 1) {
      return [noUpdate(), noUpdate()];
    }
    var next = screens[(screens.indexOf(current) + 1) % screens.length];
    var classes = screens.map(function (s) {
      return "screen-frame" + (s === next ? "" : " screen-frame--hidden");
    });
    return [next, classes];
  };

  /* A page reloads a random moment within RELOAD_JITTER_MS of the server answering: fifty walls
   * waiting for a restarted server do not all ask for their page in the same second (and their
   * refresh ticks, timed from the page's load, stay spread out after it). */
  var RELOAD_JITTER_MS = 5000;
  var reloading = false;
  function reloadWhenHealthy() {
    if (reloading) {
      return;
    }
    reloading = true;
    fetch("/healthz", { cache: "no-store" })
      .then(function (r) {
        if (r.ok) {
          setTimeout(function () {
            window.location.reload();
          }, Math.random() * RELOAD_JITTER_MS);
        } else {
          reloading = false;
        }
      })
      .catch(function () {
        reloading = false;
      });
  }

  /* Reconnecting badge: every refresh round trip reports whether the server answered; each
   * return of the server after it failed counts as a reconnect (the page's health report). */
  W.reconnects = 0;
  W.lastRefreshAt = null; // when a refresh round trip last succeeded
  var offline = false;
  function setOnline(online) {
    if (online && offline) {
      W.reconnects += 1;
    }
    offline = !online;
    if (!document.body) {
      return;
    }
    document.body.classList.toggle("wall-offline", !online);
  }

  /* After a refresh the server failed, the next one waits half to one and a half times a step
   * growing from 1.5 s to 10 s, at random (as the kiosk start page does): fifty walls whose
   * server restarts come back spread over seconds, not in the tick they shared. */
  W.failures = 0;
  W.retryAt = 0;
  function refreshFailed() {
    W.failures += 1;
    var step = Math.min(10000, 1000 + W.failures * 500);
    W.retryAt = Date.now() + step * (0.5 + Math.random());
  }
  function refreshAnswered() {
    W.failures = 0;
    W.retryAt = 0;
    W.lastRefreshAt = Date.now();
  }
  /* The screen a refresh request is for: its outputs include "<screen>-status.children". */
  function screenOf(init) {
    var match = /\.\.([a-z]+)-status\.children\./.exec((init && init.body) || "");
    return match ? match[1] : null;
  }
  var originalFetch = window.fetch.bind(window);
  window.fetch = function (input, init) {
    var url = typeof input === "string" ? input : (input && input.url) || "";
    var request = originalFetch(input, init);
    if (url.indexOf("_dash-update-component") === -1) {
      return request;
    }
    W.requests += 1;
    var screen = screenOf(init);
    function finished() {
      if (screen) {
        delete W.inflight[screen];
      }
    }
    return request.then(
      function (response) {
        finished();
        setOnline(response.status < 500);
        if (response.status < 500) {
          refreshAnswered();
        } else {
          refreshFailed();
        }
        return response;
      },
      function (error) {
        finished();
        setOnline(false);
        refreshFailed();
        throw error;
      }
    );
  };

  /* A page whose layout never arrived (server down between the HTML and the layout request:
   * Dash's "Error loading layout") reloads itself as soon as the server answers again. */
  function pageLoaded() {
    return !!document.querySelector("#page .screen-frame");
  }
  setInterval(function () {
    if (!pageLoaded() && Date.now() - W.loadedAt > PAGE_WATCHDOG_MS) {
      setOnline(false);
      reloadWhenHealthy();
    }
  }, HEALTH_POLL_MS);

  /* The page's health report (wall/screen_health.py), every `data-every-ms` of the page's
   * .screen-heartbeat give or take a tenth at random, the first one a tenth to three tenths of
   * it after the load: its name (the URL's `screen=`, checked by the server), else an id this
   * browser keeps; one report at a time. */
  var BROWSER_KEY = "iocWall.browser";
  function browserId() {
    var id = null;
    try {
      id = window.localStorage.getItem(BROWSER_KEY);
    } catch (e) {
      id = null; // storage refused (a private window): an id for this page only
    }
    if (!id || !/^[A-Za-z0-9-]{8,64}$/.test(id)) {
      var bytes = new Uint8Array(8);
      window.crypto.getRandomValues(bytes);
      id = Array.prototype.map
        .call(bytes, function (b) {
          return ("0" + b.toString(16)).slice(-2);
        })
        .join("");
      try {
        window.localStorage.setItem(BROWSER_KEY, id);
      } catch (e) {
        /* kept in this page only */
      }
    }
    return id;
  }
  W.heartbeats = { sent: 0, kept: 0 };
  var beating = false;
  function heartbeat(config) {
    if (beating) return;
    beating = true;
    var memory = window.performance && window.performance.memory;
    var body = {
      browser: browserId(),
      url: window.location.href,
      uptime_s: (Date.now() - W.loadedAt) / 1000,
      refresh_age_s: W.lastRefreshAt === null ? null : (Date.now() - W.lastRefreshAt) / 1000,
      reconnects: W.reconnects,
      heap_bytes: memory && memory.usedJSHeapSize ? memory.usedJSHeapSize : null,
    };
    var name = config.getAttribute("data-screen");
    if (name) body.screen = name;
    W.heartbeats.sent += 1;
    originalFetch(config.getAttribute("data-url"), {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify(body),
      cache: "no-store",
    })
      .then(function (r) {
        if (r.status === 200) W.heartbeats.kept += 1;
      })
      .catch(function () {
        /* the server is away: the next beat tells it */
      })
      .then(function () {
        beating = false;
      });
  }
  function scheduleHeartbeat(first) {
    var config = document.querySelector(".screen-heartbeat");
    var every = config ? parseInt(config.getAttribute("data-every-ms"), 10) : 0;
    if (!every) {
      setTimeout(scheduleHeartbeat, 1000, first); // the page is not drawn yet
      return;
    }
    var wait = first ? every * (0.1 + 0.2 * Math.random()) : every * (0.9 + 0.2 * Math.random());
    setTimeout(function () {
      var current = document.querySelector(".screen-heartbeat");
      if (current) heartbeat(current);
      scheduleHeartbeat(false);
    }, wait);
  }
  scheduleHeartbeat(true);

  /* The clock, in the city's time zone, every second. */
  var formats = {};
  function formatter(tz, lang, what) {
    var key = tz + lang + what;
    if (!formats[key]) {
      var locale = lang === "en" ? "en-GB" : "vi-VN";
      var options =
        what === "time"
          ? { hour: "2-digit", minute: "2-digit", second: "2-digit", hour12: false }
          : { weekday: "long", day: "2-digit", month: "2-digit", year: "numeric" };
      options.timeZone = tz;
      formats[key] = new Intl.DateTimeFormat(locale, options);
    }
    return formats[key];
  }
  function tick() {
    var now = new Date();
    var clocks = document.querySelectorAll(".wall-clock");
    for (var i = 0; i < clocks.length; i++) {
      var el = clocks[i];
      var tz = el.getAttribute("data-tz") || "Asia/Ho_Chi_Minh";
      var lang = el.getAttribute("data-lang") || "vi";
      if (!el.firstChild) {
        var time = document.createElement("div");
        time.className = "clock-time";
        var date = document.createElement("div");
        date.className = "clock-date";
        el.appendChild(time);
        el.appendChild(date);
      }
      el.firstChild.textContent = formatter(tz, lang, "time").format(now);
      el.lastChild.textContent = formatter(tz, lang, "date").format(now);
    }
  }
  setInterval(tick, 500); // a new screen shows its clock within half a second
  document.addEventListener("DOMContentLoaded", tick);

  /* Camera cells: each ward's cells at the largest size that lets all of them fit its panel,
   * whatever the number of wards and cameras (a ward of hundreds gets counted cells from the
   * server). Sized again when a tick redraws them or the screen changes size. */
  var CELL_REM = { largest: 3, smallest: 0.75 };
  function fitCells() {
    var rem = parseFloat(getComputedStyle(document.documentElement).fontSize);
    var boxes = document.querySelectorAll(".cam-cells");
    for (var i = 0; i < boxes.length; i++) {
      var box = boxes[i];
      var gap = parseFloat(getComputedStyle(box).rowGap) || 0;
      var count = 0;
      for (var c = 0; c < box.children.length; c++) {
        count += box.children[c].classList.contains("cam-cell--many") ? 4 : 1;
      }
      var side = CELL_REM.largest * rem;
      for (; side > CELL_REM.smallest * rem; side -= 0.5) {
        var columns = Math.max(1, Math.floor((box.clientWidth + gap) / (side + gap)));
        if (Math.ceil(count / columns) * (side + gap) - gap <= box.clientHeight) break;
      }
      var value = Math.floor(side) + "px";
      if (box.style.getPropertyValue("--cell") !== value) box.style.setProperty("--cell", value);
    }
  }
  /* Lists (cameras in trouble, oldest reports, alerts): the rows that do not fit whole are not
   * drawn, and the list's last line counts them with those the server did not send ("+ 12"),
   * so a row whose text wraps never leaves another half cut at the panel's edge. */
  var ROWS = ":scope > .off-row, :scope > .old-row, :scope > .al-row, :scope > .ap-row";
  function fitRows() {
    var clock = document.querySelector(".wall-clock");
    var locale = clock && clock.getAttribute("data-lang") === "en" ? "en-GB" : "vi-VN";
    var lists = document.querySelectorAll(".offline-list, .reports-oldest, .al-list, .ap-list");
    for (var i = 0; i < lists.length; i++) {
      var list = lists[i];
      var rows = list.querySelectorAll(ROWS);
      var more = list.querySelector(":scope > .list-more");
      if (!rows.length || !more) continue;
      var unsent = parseInt(more.getAttribute("data-unsent"), 10) || 0;
      var style = getComputedStyle(list);
      var end = list.getBoundingClientRect().bottom - parseFloat(style.paddingBottom);
      for (var r = 0; r < rows.length; r++) rows[r].style.display = "";
      more.style.display = "";
      more.textContent = "+ 0";
      var room = end - more.getBoundingClientRect().height - (parseFloat(style.rowGap) || 0);
      var hidden = 0;
      if (unsent || rows[rows.length - 1].getBoundingClientRect().bottom > end + 1) {
        for (var k = 0; k < rows.length; k++) {
          if (rows[k].getBoundingClientRect().bottom > room + 1) {
            hidden = rows.length - k;
            break;
          }
        }
      }
      for (var h = rows.length - hidden; h < rows.length; h++) rows[h].style.display = "none";
      more.textContent = "+ " + new Intl.NumberFormat(locale).format(unsent + hidden);
      more.style.display = unsent + hidden ? "" : "none";
    }
  }
  /* An indicator's card with an open anomaly carries one more line (layouts/indicators.py):
   * where a long catalogue leaves the card no room for it, the card drops where its value came
   * from, then the projection's words (its state's mark stays), rather than cut a text. A
   * card's trend left a sliver (under TREND_MIN_REM: it would show no fall) is not drawn. */
  var CARD_DROPS = [".kpi-source", ".kpi-projection"];
  var TREND_MIN_REM = 1.5;
  function fitCards() {
    var rem = parseFloat(getComputedStyle(document.documentElement).fontSize) || 16;
    var cards = document.querySelectorAll(".kpi-card");
    for (var i = 0; i < cards.length; i++) {
      var body = cards[i].querySelector(".kpi-card-body");
      if (!body) continue;
      var trend = body.querySelector(".kpi-trend");
      if (trend) trend.style.display = "";
      if (cards[i].classList.contains("kpi-card--anomaly")) {
        var drops = [];
        for (var s = 0; s < CARD_DROPS.length; s++) {
          var line = body.querySelector(CARD_DROPS[s]);
          if (line) {
            line.style.display = "";
            drops.push(line);
          }
        }
        for (var d = 0; d < drops.length && body.scrollHeight > body.clientHeight + 1; d++) {
          drops[d].style.display = "none";
        }
      }
      if (trend && trend.getBoundingClientRect().height < TREND_MIN_REM * rem) {
        trend.style.display = "none";
      }
    }
  }
  var fitting = false;
  function fitSoon() {
    if (fitting) return;
    fitting = true;
    requestAnimationFrame(function () {
      fitting = false;
      fitCells();
      fitRows();
      fitCards();
    });
  }
  /* Alarm sound (the URL's `sound=critical,high`, docs/wall.md): the tone of the most severe
   * unacknowledged, unshelved alert of a listed severity on the shown screen's banner, again
   * every SOUND_REPEAT_MS until no such alert is left (acknowledged or shelved: the next
   * refresh's banner no longer lists it). A browser that refuses to play (its autoplay policy;
   * a kiosk needs --autoplay-policy=no-user-gesture-required) gets the "sound blocked" mark,
   * found at load by a silent play and kept true by every play after it. */
  var SOUND_REPEAT_MS = 8000;
  W.sound = { plays: 0, blocked: null, playing: null };
  var lastSound = 0;
  function soundConfig() {
    var config = document.querySelector(".alarm-sound");
    if (!config) return null;
    var wanted = (config.getAttribute("data-severities") || "").split(" ").filter(Boolean);
    return wanted.length ? { wanted: wanted, files: config.getAttribute("data-files") } : null;
  }
  function soundBlocked(blocked) {
    W.sound.blocked = blocked;
    if (document.body) document.body.classList.toggle("wall-sound-blocked", blocked);
  }
  function playTone(file, volume) {
    var audio = new Audio(file);
    audio.volume = volume;
    var attempt = audio.play();
    if (!attempt || !attempt.then) return;
    attempt.then(
      function () {
        if (volume > 0) W.sound.plays += 1;
        soundBlocked(false);
      },
      function (error) {
        if (error && error.name === "NotAllowedError") soundBlocked(true);
      }
    );
  }
  function sounding(wanted) {
    var frame = document.querySelector(".screen-frame:not(.screen-frame--hidden)");
    var banner = frame && frame.querySelector(".alarm-banner");
    var present = ((banner && banner.getAttribute("data-sound")) || "").split(" ");
    for (var i = 0; i < present.length; i++) {
      if (present[i] && wanted.indexOf(present[i]) !== -1) return present[i];
    }
    return null;
  }
  setInterval(function () {
    var config = soundConfig();
    if (!config) return;
    if (W.sound.blocked === null) {
      W.sound.blocked = false; // one probe a page
      playTone(config.files.replace("{severity}", config.wanted[0]), 0);
    }
    var severity = sounding(config.wanted);
    W.sound.playing = severity;
    if (!severity) {
      lastSound = 0; // the next alarm sounds at once
    } else if (Date.now() - lastSound >= SOUND_REPEAT_MS) {
      lastSound = Date.now();
      playTone(config.files.replace("{severity}", severity), 1);
    }
  }, 1000);

  new MutationObserver(function (changes) {
    for (var i = 0; i < changes.length; i++) {
      if (changes[i].type === "childList") return fitSoon();
    }
  }).observe(document, { childList: true, subtree: true });
  window.addEventListener("resize", fitSoon);
})();
