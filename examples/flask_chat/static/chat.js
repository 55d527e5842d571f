// The chat page: rooms, messages acknowledged by the server, typing, and recovery after a drop.
// State lives here; the server is the reference for history (the join ack) and for what was missed
// (connection-state recovery replays it). Every message is shown once, keyed by its server id.
"use strict";

// back within two seconds of the network coming back (the default backoff goes up to five)
const socket = io({ transports: ["polling", "websocket"], reconnectionDelayMax: 2000 });
const rooms = new Map();      // room -> {messages: Map(id -> message), typing: Set(nickname)}
let current = null;
const $ = (id) => document.getElementById(id);

function setStatus(text) { $("status").textContent = text; }

function roomState(room) {
  if (!rooms.has(room)) rooms.set(room, { messages: new Map(), typing: new Set() });
  return rooms.get(room);
}

function addMessage(m) {
  const state = rooms.get(m.room);
  if (!state || state.messages.has(m.id)) return;   // not ours any more, or already shown
  state.messages.set(m.id, m);
  if (m.room === current) renderLog();
}

function renderRooms() {
  const list = $("rooms");
  list.replaceChildren(...[...rooms.keys()].map((room) => {
    const li = document.createElement("li");
    li.dataset.room = room;
    li.className = room === current ? "current" : "";
    li.textContent = "#" + room;
    li.addEventListener("click", () => select(room));
    const leave = document.createElement("button");
    leave.textContent = "×";
    leave.title = "leave";
    leave.addEventListener("click", (e) => { e.stopPropagation(); leaveRoom(room); });
    li.appendChild(leave);
    return li;
  }));
}

function renderLog() {
  const state = rooms.get(current);
  $("log").replaceChildren(...[...(state ? state.messages.values() : [])]
    .sort((a, b) => a.id - b.id)
    .map((m) => {
      const li = document.createElement("li");
      li.className = m.system ? "system" : "";
      li.dataset.id = m.id;
      li.textContent = m.system ? m.text : m.nickname + ": " + m.text;
      return li;
    }));
  $("log").scrollTop = $("log").scrollHeight;
  renderTyping();
}

function renderTyping() {
  const state = rooms.get(current);
  const names = state ? [...state.typing] : [];
  $("typing").textContent = names.length ? names.join(", ") + (names.length > 1 ? " are" : " is") + " typing…" : "";
}

function select(room) {
  current = room;
  $("room").hidden = false;
  $("room-name").textContent = "#" + room;
  renderRooms();
  renderLog();
}

function joinRoom(room) {
  return socket.timeout(5000).emitWithAck("join", { room }).then((reply) => {
    if (reply.error) { setStatus(reply.error); return; }
    const state = roomState(reply.room);
    reply.history.forEach((m) => { if (!state.messages.has(m.id)) state.messages.set(m.id, m); });
    select(reply.room);
  });
}

function leaveRoom(room) {
  socket.timeout(5000).emitWithAck("leave", { room }).then(() => {
    rooms.delete(room);
    if (current === room) { current = rooms.keys().next().value || null; }
    if (current) select(current); else { $("room").hidden = true; renderRooms(); }
  });
}

socket.on("connect", () => {
  const how = socket.recovered ? "recovered" : "connected";
  setStatus(how + " over " + socket.io.engine.transport.name);
  socket.io.engine.once("upgrade", (t) => setStatus(how + " over " + t.name));
  if (!socket.recovered && rooms.size) {
    // a new session (the old one expired): join again and take the history from the server
    [...rooms.keys()].forEach((room) => joinRoom(room));
  }
});
socket.on("disconnect", (reason) => setStatus("disconnected: " + reason));
socket.on("connect_error", (err) => {
  setStatus("cannot connect: " + err.message);
  if (err.data && err.data.login) window.location = err.data.login;
});
socket.on("message", addMessage);
socket.on("typing", (t) => {
  const state = rooms.get(t.room);
  if (!state) return;
  if (t.typing) state.typing.add(t.nickname); else state.typing.delete(t.nickname);
  if (t.room === current) renderTyping();
});

$("join").addEventListener("submit", (e) => {
  e.preventDefault();
  joinRoom(e.target.room.value);
  e.target.room.value = "";
});

let typingTimer = null;
$("say").text.addEventListener("input", () => {
  if (!current) return;
  if (typingTimer === null) socket.emit("typing", { room: current, typing: true });
  clearTimeout(typingTimer);
  typingTimer = setTimeout(() => {
    typingTimer = null;
    socket.emit("typing", { room: current, typing: false });
  }, 2000);
});

$("say").addEventListener("submit", (e) => {
  e.preventDefault();
  const text = e.target.text.value;
  const room = current;
  e.target.text.value = "";
  if (typingTimer !== null) {
    clearTimeout(typingTimer);
    typingTimer = null;
    socket.emit("typing", { room, typing: false });
  }
  socket.timeout(5000).emitWithAck("message", { room, text }).then((reply) => {
    if (!reply.ok) setStatus("not sent: join the room first");
  }).catch(() => setStatus("not acknowledged: the message may not have been sent"));
});

window.chat = { socket, rooms, joinRoom, leaveRoom, select };
