// The interactive space: a fan chats with a creator's AI double over a websocket.
// Server events: ready, token (streamed delta), final (checked text, replaces the stream), error.
(function () {
  "use strict";

  var root = document.getElementById("space");
  if (!root) return;

  var creatorName = root.dataset.creatorName;
  var wsPath = root.dataset.wsPath;
  var maxChars = parseInt(root.dataset.maxChars, 10) || 1000;
  var transcript = document.getElementById("transcript");
  var statusLine = document.getElementById("status");
  var form = document.getElementById("composer");
  var input = document.getElementById("message");
  var sendButton = document.getElementById("send");
  var counter = document.getElementById("counter");
  var suggestions = document.getElementById("suggestions");
  var AI_WHO = creatorName + "'s AI double (AI-generated)";
  var CREATOR_WHO = creatorName + " (in person, not AI)";

  // Errors after which reconnecting cannot help.
  var FATAL = { unknown_creator: true, bad_visitor: true };
  var VISITOR_KEY = "persona.space.visitor";

  var socket = null;
  var connected = false;
  var waiting = false; // a reply is being written
  var current = null; // the AI message being streamed: {item, text}
  var retryDelay = 1000;
  var stopped = false;
  // Closed by the server after a long time without a message: reconnect when the fan types.
  var idle = false;

  function randomId() {
    if (window.crypto && window.crypto.randomUUID) return window.crypto.randomUUID();
    var bytes = new Uint8Array(16);
    window.crypto.getRandomValues(bytes);
    return Array.prototype.map.call(bytes, function (b) {
      return ("0" + b.toString(16)).slice(-2);
    }).join("");
  }

  // The fan is known by a signed HttpOnly cookie the server set with this page. Only when
  // the browser refuses cookies does the page name itself, for this page only.
  var pageVisitor = navigator.cookieEnabled ? null : randomId();

  async function adoptLegacyVisitor() {
    // Earlier versions kept a visitor id in localStorage: hand it to the server once, which
    // moves the cookie to it if it has chats, then forget it.
    var legacy = null;
    try { legacy = window.localStorage.getItem(VISITOR_KEY); } catch (e) { return; }
    if (!legacy) return;
    if (root.dataset.newFan === "true" && /^[A-Za-z0-9_-]{8,64}$/.test(legacy)) {
      try {
        await fetch(root.dataset.fanPath, {
          method: "POST",
          credentials: "same-origin",
          headers: { "Content-Type": "application/json" },
          body: JSON.stringify({ visitor: legacy })
        });
      } catch (e) { /* offline: the chat starts afresh */ }
    }
    try { window.localStorage.removeItem(VISITOR_KEY); } catch (e) { /* nothing kept */ }
  }

  function setStatus(text, isError) {
    statusLine.textContent = text;
    statusLine.classList.toggle("error", !!isError);
  }

  function updateControls() {
    var usable = connected && !waiting;
    input.disabled = !connected && !idle;
    sendButton.disabled = !usable || input.value.trim().length === 0;
    if (suggestions) {
      suggestions.querySelectorAll("button").forEach(function (b) { b.disabled = !usable; });
    }
  }

  function hideSuggestions() {
    if (suggestions) suggestions.hidden = true;
  }

  function onHistory(messages) {
    // The server's copy of this fan's chat: replaces whatever the page shows.
    if (current) return;
    transcript.textContent = "";
    messages.forEach(function (m) {
      if (m.role === "fan") addMessage("fan", "You", m.text);
      else if (m.role === "creator") addMessage("creator", CREATOR_WHO, m.text);
      else addMessage("ai", AI_WHO, m.text);
    });
    if (messages.length) hideSuggestions();
  }

  function addMessage(kind, who, text) {
    var item = document.createElement("li");
    item.className = "msg " + kind;
    var label = document.createElement("span");
    label.className = "who";
    label.textContent = who;
    var body = document.createElement("p");
    body.className = "text";
    body.textContent = text;
    item.appendChild(label);
    item.appendChild(body);
    transcript.appendChild(item);
    item.scrollIntoView({ block: "end", behavior: "auto" });
    return item;
  }

  function addNotice(text, isError) {
    var item = addMessage("system" + (isError ? " error" : ""), "Notice", text);
    return item;
  }

  function startReply() {
    var item = addMessage("ai", AI_WHO, "");
    // Screen readers wait for the finished reply instead of reading every token.
    item.setAttribute("aria-busy", "true");
    current = { item: item, text: "" };
  }

  function onToken(delta) {
    if (!current) startReply();
    current.text += delta;
    current.item.querySelector(".text").textContent = current.text;
    current.item.scrollIntoView({ block: "end", behavior: "auto" });
  }

  function onFinal(event) {
    if (event.by_creator) {
      // Written by the creator in person: never dressed as the AI's reply.
      var own = addMessage("creator", CREATOR_WHO, event.text);
      if (event.label) own.title = event.label;
      return;
    }
    if (!current) startReply();
    var item = current.item;
    if (event.text) {
      // The checked text replaces the streamed one (it may be trimmed or replaced).
      item.querySelector(".text").textContent = event.text;
      if (event.label) item.title = event.label;
      item.setAttribute("aria-busy", "false");
    } else {
      item.remove();
    }
    if (event.notice) addNotice(event.notice, false);
    current = null;
    waiting = false;
    setStatus("", false);
    updateControls();
    input.focus();
  }

  function onError(event) {
    if (current) {
      current.item.remove();
      current = null;
    }
    waiting = false;
    addNotice(event.detail, true);
    if (FATAL[event.code]) stopped = true;
    if (event.code === "idle") idle = true;
    updateControls();
  }

  function connect() {
    var scheme = window.location.protocol === "https:" ? "wss://" : "ws://";
    var url = scheme + window.location.host + wsPath +
      (pageVisitor ? "?visitor=" + encodeURIComponent(pageVisitor) : "");
    setStatus("Connecting…", false);
    socket = new WebSocket(url);

    socket.addEventListener("message", function (message) {
      var event;
      try {
        event = JSON.parse(message.data);
      } catch (e) {
        return;
      }
      if (event.type === "ready") {
        connected = true;
        retryDelay = 1000;
        if (event.max_message_chars) maxChars = event.max_message_chars;
        input.maxLength = maxChars;
        onHistory(event.history || []);
        setStatus("Connected.", false);
        updateControls();
      } else if (event.type === "token") {
        onToken(event.delta);
      } else if (event.type === "final") {
        onFinal(event);
      } else if (event.type === "error") {
        onError(event);
      }
    });

    socket.addEventListener("close", function (closeEvent) {
      connected = false;
      if (current) {
        current.item.remove();
        current = null;
      }
      waiting = false;
      updateControls();
      if (stopped) {
        setStatus("The chat is closed.", true);
        return;
      }
      if (idle) {
        setStatus("Paused after a while without messages. Start typing to go on.", false);
        updateControls();
        return;
      }
      // 1013: the space is full; wait longer before trying again.
      var delay = closeEvent.code === 1013 ? 30000 : retryDelay;
      retryDelay = Math.min(retryDelay * 2, 30000);
      setStatus("Disconnected. Reconnecting in " + Math.round(delay / 1000) + " s…", true);
      window.setTimeout(connect, delay);
    });
  }

  function send() {
    var text = input.value.trim();
    if (!text || !connected || waiting) return;
    if (text.length > maxChars) {
      addNotice("Messages are limited to " + maxChars + " characters.", true);
      return;
    }
    addMessage("fan", "You", text);
    hideSuggestions();
    socket.send(JSON.stringify({ type: "message", text: text }));
    input.value = "";
    counter.textContent = "0/" + maxChars;
    waiting = true;
    setStatus(creatorName + "'s AI double is writing…", false);
    updateControls();
  }

  if (suggestions) {
    suggestions.addEventListener("click", function (event) {
      var button = event.target.closest("button.suggestion");
      if (!button || button.disabled) return;
      input.value = button.textContent.trim();
      send();
    });
  }

  form.addEventListener("submit", function (event) {
    event.preventDefault();
    send();
  });

  input.addEventListener("keydown", function (event) {
    if (event.key === "Enter" && !event.shiftKey && !event.isComposing) {
      event.preventDefault();
      send();
    }
  });

  function wake() {
    if (!idle) return;
    idle = false;
    connect();
  }

  input.addEventListener("focus", wake);

  input.addEventListener("input", function () {
    wake();
    counter.textContent = input.value.length + "/" + maxChars;
    updateControls();
  });

  adoptLegacyVisitor().then(connect, connect);
})();
