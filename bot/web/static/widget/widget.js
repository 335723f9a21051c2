/*!
 * Clinical trial chat widget: a floating chat button and panel that talk to the Rasa server.
 *
 * Embed:  <script>window.TrialChatConfig = {serverUrl: "https://rasa.example.org"};</script>
 *         <script src="https://HOST:8000/static/widget/widget.js" defer></script>
 *
 * Config (window.TrialChatConfig, or data-* attributes on the script tag; all optional):
 *   serverUrl       Rasa server; the REST webhook is {serverUrl}/webhooks/rest/webhook.
 *                   Default: port 5005 on the host that served this script.
 *   title           panel heading: a string, or {en: "...", zh: "..."} (default: in the UI language)
 *   colors.primary  any CSS color for the launcher, header and your messages
 *   language        "en" or "zh": the UI language a new conversation starts in (default: the
 *                   page's <html lang>: zh, zh-CN, zh-Hans, zh-TW... -> zh; anything else -> en)
 *   initPayload     sent, unshown, when an empty conversation opens (default "/greet"; "" = none)
 *
 * Languages: the UI language belongs to the conversation (kept in localStorage with it). Every
 * message carries metadata {"language": <current>} as a hint for the server. The header's
 * language button switches the wording at once and sends /switch_language{"language": "zh"}
 * (or "en"), shown in the transcript as the button's label. The UI follows the conversation: a
 * bot reply with Chinese characters switches it to zh, one with no Chinese and at least three
 * Latin words to en.
 *
 * Every message is rendered with textContent, never as HTML. The sender id and the transcript
 * are kept in localStorage, so a conversation survives page loads until "New conversation".
 * No inline styles or scripts are injected: the page's CSP needs script-src and style-src for
 * this script's origin and connect-src for serverUrl.
 */
(function () {
  "use strict";

  if (window.TrialChat && window.TrialChat.loaded) return;

  var MAX_LENGTH = 2000;
  var NEAR_LIMIT = 1800;
  var TRANSCRIPT_LIMIT = 200;
  var REQUEST_TIMEOUT_MS = 45000;

  // The widget's own wording. Both dictionaries have exactly the same keys (tests check this);
  // no trial facts here: every fact comes from the assistant.
  var STRINGS = {
    en: {
      title: "Clinical trial assistant",
      subtitle: "Automated assistant · not medical advice",
      launcher: "Ask our assistant",
      close: "Close chat",
      restart: "New conversation",
      restartShort: "New",
      log: "Conversation",
      you: "You said:",
      bot: "Assistant said:",
      typing: "The assistant is typing",
      inputLabel: "Your message",
      placeholder: "Type your question…",
      send: "Send",
      suggestions: "Suggested replies",
      limit: "Up to 2,000 characters. Please don't include personal medical details.",
      used: function (n) { return n.toLocaleString("en") + " of 2,000 characters used."; },
      error: "Sorry, the assistant can't be reached right now. Please check your connection and try again in a moment.",
      unavailable: "The assistant is not available right now. Please try again in a few minutes.",
      tooMany: "Too many messages; please wait a moment.",
      retry: "Try again"
    },
    zh: {
      title: "临床试验助手",
      subtitle: "自动回复助手 · 不提供医疗建议",
      launcher: "咨询助手",
      close: "关闭对话",
      restart: "开始新对话",
      restartShort: "新对话",
      log: "对话记录",
      you: "您说：",
      bot: "助手说：",
      typing: "助手正在输入",
      inputLabel: "您的消息",
      placeholder: "请输入您的问题…",
      send: "发送",
      suggestions: "建议回复",
      limit: "最多 2000 字。请勿填写个人医疗信息。",
      used: function (n) { return "已输入 " + n + " / 2000 字。"; },
      error: "抱歉，暂时无法连接助手。请检查网络后稍后再试。",
      unavailable: "抱歉，助手暂时无法使用，请您过几分钟再试。",
      tooMany: "消息发送过于频繁，请您稍候片刻。",
      retry: "重试"
    }
  };

  // The header's language button, by the language it switches to: labelled in that language
  // (with a matching lang attribute), for the patient who reads it.
  var SWITCH = {
    en: {label: "English", aria: "Switch to English"},
    zh: {label: "中文", aria: "切换到中文"}
  };
  var LANG_TAGS = {en: "en", zh: "zh-CN"};

  // CJK Unified Ideographs (with Extension A and the compatibility block) and Latin words.
  var CJK = /[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]/;
  var LATIN_WORD = /[A-Za-z\u00c0-\u024f]+(?:['\u2019][A-Za-z]+)*/g;

  // "zh", "zh-CN", "zh-Hans", "zh_TW"... -> "zh"; any other tag -> "en"; nothing -> "".
  function languageOf(tag) {
    tag = String(tag || "").trim().toLowerCase();
    if (!tag) return "";
    return /^zh(?:[-_]|$)/.test(tag) ? "zh" : "en";
  }

  // The language a text is written in: "zh" (any Chinese character), "en" (no Chinese, at
  // least three Latin words) or "" (can't tell: a number, "OK", an emoji...).
  function detectLanguage(text) {
    text = String(text || "");
    if (CJK.test(text)) return "zh";
    return (text.match(LATIN_WORD) || []).length >= 3 ? "en" : "";
  }

  // ---- configuration ------------------------------------------------------------------------

  var script = document.currentScript || (function () {
    var all = document.querySelectorAll("script[src*='widget.js']");
    return all.length ? all[all.length - 1] : null;
  })();
  var scriptUrl = new URL(script && script.src ? script.src : "widget.js", location.href);

  function readConfig() {
    var given = window.TrialChatConfig || {};
    var data = (script && script.dataset) || {};
    var colors = given.colors || {};
    var serverUrl = String(given.serverUrl || data.serverUrl ||
      scriptUrl.protocol + "//" + scriptUrl.hostname + ":5005").replace(/\/+$/, "");
    var language = languageOf(given.language || data.language) ||
      languageOf(document.documentElement.getAttribute("lang")) || "en";
    var initPayload = "initPayload" in given ? given.initPayload :
      ("initPayload" in data ? data.initPayload : "/greet");
    return {
      serverUrl: serverUrl,
      language: language,
      title: given.title || data.title || "",
      primary: colors.primary || data.primaryColor || "",
      initPayload: initPayload ? String(initPayload) : ""
    };
  }

  var config = readConfig();
  var endpoint = config.serverUrl + "/webhooks/rest/webhook";
  var storageKey = "trialchat:v1:" + config.serverUrl;

  function titleIn(language) {
    var given = config.title;
    if (given && typeof given === "object") given = given[language] || given.en || given.zh;
    return String(given || STRINGS[language].title);
  }

  // ---- persistence --------------------------------------------------------------------------

  var memoryStore = {};
  function storageGet(key) {
    try { return window.localStorage.getItem(key); } catch (e) { return memoryStore[key] || null; }
  }
  function storageSet(key, value) {
    try { window.localStorage.setItem(key, value); } catch (e) { memoryStore[key] = value; }
  }

  function newSenderId() {
    var bytes = new Uint8Array(16);
    (window.crypto || window.msCrypto).getRandomValues(bytes);
    return "web-" + Array.prototype.map.call(bytes, function (b) {
      return (b + 256).toString(16).slice(1);
    }).join("");
  }

  function cleanButtons(buttons) {
    if (!Array.isArray(buttons)) return [];
    return buttons.filter(function (b) {
      return b && typeof b.title === "string" && typeof b.payload === "string" && b.title;
    }).map(function (b) { return {title: b.title, payload: b.payload}; });
  }

  function cleanMessage(m) {
    if (!m || (m.role !== "user" && m.role !== "bot") || typeof m.text !== "string") return null;
    var clean = {role: m.role, text: m.text};
    if (m.role === "bot") clean.buttons = cleanButtons(m.buttons);
    return clean;
  }

  function loadState() {
    var state = null;
    try { state = JSON.parse(storageGet(storageKey) || "null"); } catch (e) { state = null; }
    if (!state || typeof state.sender !== "string" || !Array.isArray(state.messages)) {
      return {sender: newSenderId(), messages: [], open: false, language: config.language};
    }
    return {
      sender: state.sender,
      messages: state.messages.map(cleanMessage).filter(Boolean).slice(-TRANSCRIPT_LIMIT),
      open: state.open === true,
      // Saved before the widget was bilingual: the configured language.
      language: STRINGS.hasOwnProperty(state.language) ? state.language : config.language
    };
  }

  var state = loadState();
  var t = STRINGS[state.language];
  function saveState() {
    state.messages = state.messages.slice(-TRANSCRIPT_LIMIT);
    storageSet(storageKey, JSON.stringify(state));
  }

  // ---- DOM helpers (text only: nothing here parses HTML) -------------------------------------

  function el(tag, attrs, text) {
    var node = document.createElement(tag);
    if (attrs) Object.keys(attrs).forEach(function (k) { node.setAttribute(k, attrs[k]); });
    if (text !== undefined) node.textContent = text;
    return node;
  }

  // Wording that follows the UI language: data-tc-text names the key of the node's text,
  // data-tc-label of its aria-label, data-tc-tip of its title, data-tc-placeholder of its
  // placeholder. applyLanguage() fills them all.
  var LOCALIZED = [
    ["data-tc-text", function (node, value) { node.textContent = value; }],
    ["data-tc-label", function (node, value) { node.setAttribute("aria-label", value); }],
    ["data-tc-tip", function (node, value) { node.setAttribute("title", value); }],
    ["data-tc-placeholder", function (node, value) { node.setAttribute("placeholder", value); }]
  ];
  function localize(node) {
    LOCALIZED.forEach(function (entry) {
      var key = node.getAttribute(entry[0]);
      if (key && typeof t[key] === "string") entry[1](node, t[key]);
    });
    return node;
  }

  var SVG_NS = "http://www.w3.org/2000/svg";
  function icon(pathData) {
    var svg = document.createElementNS(SVG_NS, "svg");
    svg.setAttribute("viewBox", "0 0 24 24");
    svg.setAttribute("aria-hidden", "true");
    svg.setAttribute("focusable", "false");
    svg.setAttribute("class", "tc-icon");
    var path = document.createElementNS(SVG_NS, "path");
    path.setAttribute("d", pathData);
    svg.appendChild(path);
    return svg;
  }
  var ICON_CHAT = "M4 4h16a2 2 0 0 1 2 2v10a2 2 0 0 1-2 2H9l-5 4v-4a2 2 0 0 1-2-2V6a2 2 0 0 1 2-2z";
  var ICON_CLOSE = "M6 6l12 12M18 6L6 18";
  var ICON_SEND = "M3 11l18-8-8 18-2-8-8-2z";
  var ICON_RESTART = "M4 12a8 8 0 1 0 2.3-5.6M4 4v5h5";

  // ---- build the widget ---------------------------------------------------------------------

  var host = el("div", {id: "trialchat-root"});
  host.style.display = "none"; // until the stylesheet has loaded (CSSOM: allowed under CSP)
  var root = host.attachShadow ? host.attachShadow({mode: "open"}) : host;

  var stylesheet = el("link", {rel: "stylesheet", href: new URL("widget.css", scriptUrl).href});
  stylesheet.addEventListener("load", function () { host.style.display = ""; });
  stylesheet.addEventListener("error", function () { host.style.display = ""; });
  root.appendChild(stylesheet);

  var box = el("div", {"class": "tc"});
  root.appendChild(box);

  var launcher = el("button", {type: "button", "class": "tc-launcher", "aria-expanded": "false",
    "aria-controls": "tc-panel", "aria-haspopup": "dialog"});
  launcher.appendChild(icon(ICON_CHAT));
  launcher.appendChild(el("span", {"class": "tc-launcher-text", "data-tc-text": "launcher"}));

  var panel = el("div", {id: "tc-panel", "class": "tc-panel", role: "dialog",
    "aria-labelledby": "tc-title", hidden: ""});

  var header = el("div", {"class": "tc-header"});
  var heading = el("div", {"class": "tc-heading"});
  var titleNode = el("h2", {id: "tc-title", "class": "tc-title"});
  heading.appendChild(titleNode);
  heading.appendChild(el("p", {"class": "tc-subtitle", "data-tc-text": "subtitle"}));
  var languageButton = el("button", {type: "button", "class": "tc-header-button tc-language"});
  var languageText = el("span", {"class": "tc-language-text"});
  languageButton.appendChild(languageText);
  var restartButton = el("button", {type: "button", "class": "tc-header-button",
    "data-tc-label": "restart", "data-tc-tip": "restart"});
  restartButton.appendChild(icon(ICON_RESTART));
  restartButton.appendChild(el("span", {"class": "tc-header-button-text", "aria-hidden": "true",
    "data-tc-text": "restartShort"}));
  var closeButton = el("button", {type: "button", "class": "tc-header-button tc-close",
    "data-tc-label": "close", "data-tc-tip": "close"});
  closeButton.appendChild(icon(ICON_CLOSE));
  header.appendChild(heading);
  header.appendChild(languageButton);
  header.appendChild(restartButton);
  header.appendChild(closeButton);

  var scroller = el("div", {"class": "tc-scroll", tabindex: "0", "data-tc-label": "log"});
  var log = el("div", {"class": "tc-log", role: "log", "aria-live": "polite",
    "aria-relevant": "additions", "data-tc-label": "log"});
  var typing = el("div", {"class": "tc-typing", role: "status", hidden: ""});
  typing.appendChild(el("span", {"class": "tc-visually-hidden", "data-tc-text": "typing"}));
  for (var i = 0; i < 3; i++) typing.appendChild(el("span", {"class": "tc-dot", "aria-hidden": "true"}));
  scroller.appendChild(log);
  scroller.appendChild(typing);

  var form = el("form", {"class": "tc-form", novalidate: ""});
  var inputLabel = el("label", {"for": "tc-input", "class": "tc-visually-hidden",
    "data-tc-text": "inputLabel"});
  var input = el("textarea", {id: "tc-input", "class": "tc-input", rows: "1",
    maxlength: String(MAX_LENGTH), "data-tc-placeholder": "placeholder",
    "aria-describedby": "tc-note", autocomplete: "off", enterkeyhint: "send"});
  var sendButton = el("button", {type: "submit", "class": "tc-send", "data-tc-label": "send",
    "data-tc-tip": "send"});
  sendButton.appendChild(icon(ICON_SEND));
  var row = el("div", {"class": "tc-input-row"});
  row.appendChild(inputLabel);
  row.appendChild(input);
  row.appendChild(sendButton);
  var note = el("p", {id: "tc-note", "class": "tc-note"});
  form.appendChild(row);
  form.appendChild(note);

  panel.appendChild(header);
  panel.appendChild(scroller);
  panel.appendChild(form);
  box.appendChild(panel);
  box.appendChild(launcher);

  applyColor(config.primary);
  applyLanguage();

  // ---- language -----------------------------------------------------------------------------

  // Puts all of the widget's own wording in the conversation's language, in place.
  function applyLanguage() {
    var language = state.language;
    t = STRINGS[language];
    box.setAttribute("lang", LANG_TAGS[language]);
    titleNode.textContent = titleIn(language);
    LOCALIZED.forEach(function (entry) {
      Array.prototype.forEach.call(root.querySelectorAll("[" + entry[0] + "]"), localize);
    });
    Array.prototype.forEach.call(log.querySelectorAll(".tc-who"), function (who) {
      who.setAttribute("lang", LANG_TAGS[language]);
    });
    var other = language === "zh" ? "en" : "zh";
    languageText.textContent = SWITCH[other].label;
    languageButton.setAttribute("lang", LANG_TAGS[other]);
    languageButton.setAttribute("aria-label", SWITCH[other].aria);
    languageButton.setAttribute("title", SWITCH[other].aria);
    updateNote();
  }

  function setLanguage(language) {
    if (!STRINGS.hasOwnProperty(language) || language === state.language) return;
    state.language = language;
    saveState();
    applyLanguage();
  }

  // ---- colors -------------------------------------------------------------------------------

  function luminance(rgb) {
    var c = rgb.map(function (v) {
      v /= 255;
      return v <= 0.03928 ? v / 12.92 : Math.pow((v + 0.055) / 1.055, 2.4);
    });
    return 0.2126 * c[0] + 0.7152 * c[1] + 0.0722 * c[2];
  }

  function applyColor(color) {
    if (!color || !window.CSS || !CSS.supports("color", color)) return;
    host.style.setProperty("--tc-primary", color);
    // Text on the primary color: black or white, whichever contrasts more.
    var probe = el("span");
    probe.style.color = color;
    document.documentElement.appendChild(probe);
    var parts = (getComputedStyle(probe).color.match(/[\d.]+/g) || []).slice(0, 3).map(Number);
    probe.remove();
    if (parts.length === 3) {
      var l = luminance(parts);
      host.style.setProperty("--tc-on-primary", (l + 0.05) / 0.05 > 1.05 / (l + 0.05) ? "#111" : "#fff");
    }
  }

  // ---- rendering ----------------------------------------------------------------------------

  // A bubble whose language is clear gets its own lang, so screen readers and fonts follow
  // the text rather than the UI.
  function textBubble(text) {
    var bubble = el("div", {"class": "tc-bubble"});
    var language = detectLanguage(text);
    if (language) bubble.setAttribute("lang", LANG_TAGS[language]);
    return bubble;
  }

  function renderMessage(message) {
    var item = el("div", {"class": "tc-msg tc-msg--" + message.role});
    if (message.text) {
      var bubble = textBubble(message.text);
      // "You said:" is in the UI language, whatever the message's.
      bubble.appendChild(localize(el("span", {"class": "tc-visually-hidden tc-who",
        "data-tc-text": message.role === "user" ? "you" : "bot", lang: LANG_TAGS[state.language]})));
      bubble.appendChild(document.createTextNode(" " + message.text));
      item.appendChild(bubble);
    }
    log.appendChild(item);
    return item;
  }

  function renderButtons(item, buttons) {
    if (!buttons || !buttons.length) return;
    var group = localize(el("div", {"class": "tc-buttons", role: "group",
      "data-tc-label": "suggestions"}));
    buttons.forEach(function (b) {
      var button = el("button", {type: "button", "class": "tc-chip"}, b.title);
      var language = detectLanguage(b.title);
      if (language) button.setAttribute("lang", LANG_TAGS[language]);
      button.addEventListener("click", function () {
        sendUserMessage(b.title, b.payload);
        input.focus();
      });
      group.appendChild(button);
    });
    item.appendChild(group);
  }

  function removeButtons() {
    Array.prototype.forEach.call(log.querySelectorAll(".tc-buttons"), function (g) { g.remove(); });
  }

  // failure: {status, message} from post(). The server's own message (already in the
  // conversation's language) is shown as is; otherwise a generic one in the UI language, which
  // follows a later language switch.
  function renderError(failure, retry) {
    var item = el("div", {"class": "tc-msg tc-msg--error"});
    var bubble;
    if (failure.message) {
      bubble = textBubble(failure.message);
      bubble.textContent = failure.message;
    } else {
      bubble = localize(el("div", {"class": "tc-bubble", "data-tc-text":
        failure.status === 429 ? "tooMany" : failure.status ? "unavailable" : "error"}));
    }
    item.appendChild(bubble);
    var again = localize(el("button", {type: "button", "class": "tc-chip tc-retry",
      "data-tc-text": "retry"}));
    again.addEventListener("click", function () {
      item.remove();
      retry();
      input.focus();
    });
    item.appendChild(again);
    log.appendChild(item);
    scrollToShow(item);
  }

  function renderAll() {
    log.textContent = "";
    var lastUser = -1;
    state.messages.forEach(function (m, index) { if (m.role === "user") lastUser = index; });
    state.messages.forEach(function (m, index) {
      var item = renderMessage(m);
      if (m.role === "bot" && index > lastUser) renderButtons(item, m.buttons);
    });
    scroller.scrollTop = scroller.scrollHeight;
  }

  // Shows the end of the conversation, unless the first new message would scroll out of view.
  function scrollToShow(first) {
    var target = first.offsetTop - 8;
    if (scroller.scrollHeight - target <= scroller.clientHeight) {
      scroller.scrollTop = scroller.scrollHeight;
    } else {
      scroller.scrollTop = target;
    }
  }

  // ---- talking to Rasa ----------------------------------------------------------------------

  var queue = Promise.resolve();
  var pending = 0;
  var generation = 0; // bumped by "new conversation": late replies to the old one are dropped

  function setTyping(on) {
    typing.hidden = !on;
    if (on) scroller.scrollTop = scroller.scrollHeight;
  }

  // The `message` of an error's JSON body, if it is one meant for patients: a short plain
  // string. Framework error bodies (Sanic's {"description", "status", "message"}, with
  // "exceptions" in debug mode), markup and stack traces are never shown.
  function serverMessage(body) {
    if (!body || typeof body !== "object" || Array.isArray(body)) return "";
    if (typeof body.message !== "string" || "description" in body || "exceptions" in body) return "";
    var text = body.message.trim();
    if (!text || text.length > 500 || /<[a-z!\/?]/i.test(text) ||
        /Traceback \(most recent call last\)|File "[^"]*", line \d|\n\s+at \S/.test(text)) return "";
    return text;
  }

  // Resolves with the replies; rejects with {status, message}: status 0 when the server could
  // not be reached (or took too long), message only when the server sent one for patients.
  function post(message) {
    var controller = window.AbortController ? new AbortController() : null;
    var timer = controller && setTimeout(function () { controller.abort(); }, REQUEST_TIMEOUT_MS);
    return fetch(endpoint, {
      method: "POST",
      mode: "cors",
      credentials: "omit",
      headers: {"Content-Type": "application/json"},
      body: JSON.stringify({sender: state.sender, message: message,
        metadata: {language: state.language}}),
      signal: controller ? controller.signal : undefined
    }).then(function (response) {
      var status = response.status;
      return response.json().then(null, function () { return null; }).then(function (body) {
        if (!response.ok) throw {status: status, message: serverMessage(body)};
        if (!Array.isArray(body)) throw {status: status, message: ""};
        return body;
      });
    }, function () {
      throw {status: 0, message: ""};
    }).finally(function () { if (timer) clearTimeout(timer); });
  }

  function showReplies(replies) {
    var first = null;
    var language = "";
    replies.forEach(function (reply) {
      if (!reply) return;
      var text = typeof reply.text === "string" ? reply.text : "";
      var buttons = cleanButtons(reply.buttons);
      if (!text && !buttons.length) return; // images, custom payloads: not shown
      var message = {role: "bot", text: text, buttons: buttons};
      state.messages.push(message);
      var item = renderMessage(message);
      renderButtons(item, buttons);
      first = first || item;
      language = detectLanguage(text) || language;
    });
    saveState();
    // The UI follows the conversation's language (the last reply that shows one).
    if (language) setLanguage(language);
    if (first) scrollToShow(first);
  }

  function deliver(message) {
    var mine = generation;
    pending++;
    setTyping(true);
    queue = queue.then(function () {
      if (mine !== generation) return;
      return post(message).then(function (replies) {
        if (mine === generation) showReplies(replies);
      }, function (failure) {
        if (mine === generation) renderError(failure || {}, function () { deliver(message); });
      });
    }).then(function () {
      pending--;
      if (!pending) setTyping(false);
    });
  }

  // text: what the transcript shows; payload: what the server gets, if different.
  function sendUserMessage(text, payload) {
    text = String(text).slice(0, MAX_LENGTH);
    if (!text.trim()) return;
    removeButtons();
    Array.prototype.forEach.call(log.querySelectorAll(".tc-msg--error"), function (e) { e.remove(); });
    var message = {role: "user", text: text};
    state.messages.push(message);
    saveState();
    scrollToShow(renderMessage(message));
    deliver(payload || text);
  }

  function switchLanguage() {
    var language = state.language === "zh" ? "en" : "zh";
    var label = SWITCH[language].label;
    setLanguage(language);
    sendUserMessage(label, '/switch_language{"language": "' + language + '"}');
  }

  // ---- open, close, restart ------------------------------------------------------------------

  function greetIfEmpty() {
    if (!state.messages.length && config.initPayload && !pending) deliver(config.initPayload);
  }

  function open(focus) {
    panel.hidden = false;
    launcher.hidden = true;
    launcher.setAttribute("aria-expanded", "true");
    box.classList.add("tc--open");
    state.open = true;
    saveState();
    scroller.scrollTop = scroller.scrollHeight;
    if (focus !== false) input.focus();
    greetIfEmpty();
  }

  function close() {
    var active = root.activeElement || document.activeElement;
    var hadFocus = !!active && panel.contains(active);
    panel.hidden = true;
    launcher.hidden = false;
    launcher.setAttribute("aria-expanded", "false");
    box.classList.remove("tc--open");
    state.open = false;
    saveState();
    if (hadFocus) launcher.focus();
  }

  // A new conversation keeps the language the patient was using.
  function restart() {
    generation++;
    state = {sender: newSenderId(), messages: [], open: !panel.hidden, language: state.language};
    saveState();
    renderAll();
    input.value = "";
    updateNote();
    input.focus();
    greetIfEmpty();
  }

  // ---- input --------------------------------------------------------------------------------

  function updateNote() {
    var n = input.value.length;
    note.textContent = n >= NEAR_LIMIT ? t.used(n) : t.limit;
    note.classList.toggle("tc-note--near", n >= NEAR_LIMIT);
    input.style.height = "auto";
    input.style.height = Math.min(input.scrollHeight, 140) + "px";
  }

  form.addEventListener("submit", function (event) {
    event.preventDefault();
    var text = input.value;
    if (!text.trim()) return;
    input.value = "";
    updateNote();
    sendUserMessage(text);
    input.focus();
  });

  input.addEventListener("input", updateNote);
  input.addEventListener("keydown", function (event) {
    // Enter sends, Shift+Enter is a new line; never while an IME is composing (Chinese input).
    if (event.key === "Enter" && !event.shiftKey && !event.isComposing && event.keyCode !== 229) {
      event.preventDefault();
      if (form.requestSubmit) form.requestSubmit(); else form.dispatchEvent(new Event("submit", {cancelable: true}));
    }
  });

  launcher.addEventListener("click", function () { open(true); });
  closeButton.addEventListener("click", function () { close(); });
  restartButton.addEventListener("click", restart);
  languageButton.addEventListener("click", switchLanguage);

  var phone = window.matchMedia ? window.matchMedia("(max-width: 480px)") : null;
  panel.addEventListener("keydown", function (event) {
    if (event.key === "Escape") {
      event.preventDefault();
      close();
      return;
    }
    // Full-screen on a phone the panel is effectively modal: keep Tab inside it.
    if (event.key === "Tab" && phone && phone.matches) {
      var focusable = Array.prototype.filter.call(
        panel.querySelectorAll("button, textarea, [tabindex='0']"),
        function (n) { return !n.disabled && n.offsetParent !== null; });
      if (!focusable.length) return;
      var first = focusable[0], last = focusable[focusable.length - 1];
      if (event.shiftKey && root.activeElement === first) { event.preventDefault(); last.focus(); }
      else if (!event.shiftKey && root.activeElement === last) { event.preventDefault(); first.focus(); }
    }
  });

  // Any element on the page with data-trialchat-open opens the chat.
  document.addEventListener("click", function (event) {
    var target = event.target && event.target.closest && event.target.closest("[data-trialchat-open]");
    if (target) { event.preventDefault(); open(true); }
  });

  // Another tab of the same site changed the conversation: show the same one here.
  window.addEventListener("storage", function (event) {
    if (event.key !== storageKey) return;
    var wasOpen = !panel.hidden;
    state = loadState();
    state.open = wasOpen;
    applyLanguage();
    renderAll();
  });

  function mount() {
    document.body.appendChild(host);
    renderAll();
    if (state.open) open(false);
  }
  if (document.body) mount(); else document.addEventListener("DOMContentLoaded", mount);

  window.TrialChat = {
    loaded: true,
    open: function () { open(true); },
    close: close,
    newConversation: restart
  };
})();
