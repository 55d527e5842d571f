// A Node socket.io 4.8 server that the Python client tests talk to.
//
// Usage: node node_server.js '<json options>'
//   port           TCP port on 127.0.0.1 (0 = any free port); default 0
//   namespaces     namespaces that accept connections; default ["/"]
//   token          when set, the connect middleware refuses every handshake whose
//                  auth.token differs, with message "unauthorized" and err.data
//                  {"reason": "bad token", "got": <auth.token>}
//   recovery       enable connectionStateRecovery (maxDisconnectionDuration 60 s)
//   parser         "msgpack" for socket.io-msgpack-parser, else the default parser
//   path           the Engine.IO path; default "/socket.io"
//   transports     allowed transports; default ["polling", "websocket"]
//   pingInterval, pingTimeout   in milliseconds; defaults 25000 / 20000
//   tls            {"key": path, "cert": path}: serve https/wss instead of http/ws
//
// Prints {"port": N} on one stdout line once listening. Exits when stdin closes
// or on SIGTERM, so a test runner that dies does not leave it behind.
//
// Events, on every namespace:
//   echo(...args, ack?)          acks with the same arguments, or emits "echo" back
//   never_ack(...args, ack)      never calls ack
//   whoami(ack)                  acks {sid, conn, recovered, auth, query, header, transport, nsp}
//   message(...args)             sends "message"(...args) back (the client's send())
//   join({name}, ack)            like examples/chat_wsgi.py: emits "message"
//                                {name: "server", text: "<name> joined"} to the
//                                namespace and acks {members}
//   chat message({text}, ack)    emits "message" {name, text} to the namespace, acks {ok: true}
//   emit_to_me(event, ...args)   the server emits event(...args) to this socket
//   call_me(event, args, ack)    emits event(...args) with an ack to the client and
//                                acks the caller with the client's answer (array)
//   drop_me(missed?)             closes the underlying Engine.IO connection (a
//                                recoverable disconnection); then emits "missed"(i)
//                                to this socket's room for i in 0..missed-1
//   server_disconnect()          disconnects this socket from the namespace
//   freeze(ms)                   blocks the event loop for ms (a server that stops
//                                answering, including heartbeats)
//   broadcast(event, ...args)    emits to every socket of the namespace
"use strict";

const http = require("http");
const https = require("https");
const fs = require("fs");
const { Server } = require("socket.io");

const opts = JSON.parse(process.argv[2] || "{}");
const namespaces = opts.namespaces || ["/"];

let httpServer;
if (opts.tls) {
  httpServer = https.createServer({
    key: fs.readFileSync(opts.tls.key),
    cert: fs.readFileSync(opts.tls.cert),
  });
} else {
  httpServer = http.createServer();
}

const serverOptions = {
  path: opts.path || "/socket.io",
  transports: opts.transports || ["polling", "websocket"],
  pingInterval: opts.pingInterval || 25000,
  pingTimeout: opts.pingTimeout || 20000,
  maxHttpBufferSize: 1e7,
};
if (opts.recovery) {
  serverOptions.connectionStateRecovery = {
    maxDisconnectionDuration: 60000,
    skipMiddlewares: true,
  };
}
if (opts.parser === "msgpack") {
  serverOptions.parser = require("socket.io-msgpack-parser");
}

const io = new Server(httpServer, serverOptions);

function setup(nsp) {
  if (opts.token !== undefined && opts.token !== null) {
    nsp.use((socket, next) => {
      const got = socket.handshake.auth && socket.handshake.auth.token;
      if (got === opts.token) {
        next();
        return;
      }
      const err = new Error("unauthorized");
      err.data = { reason: "bad token", got: got === undefined ? null : got };
      next(err);
    });
  }

  nsp.on("connection", (socket) => {
    socket.on("echo", (...args) => {
      const ack = typeof args[args.length - 1] === "function" ? args.pop() : null;
      if (ack) {
        ack(...args);
      } else {
        socket.emit("echo", ...args);
      }
    });

    socket.on("never_ack", () => {});

    socket.on("message", (...args) => {
      socket.send(...args);
    });

    socket.on("join", (data, ack) => {
      const name = data && typeof data.name === "string" ? data.name : "anonymous";
      socket.data.name = name;
      nsp.emit("message", { name: "server", text: `${name} joined` });
      if (typeof ack === "function") ack({ members: nsp.sockets.size });
    });

    socket.on("chat message", (data, ack) => {
      const text = data && typeof data.text === "string" ? data.text : "";
      nsp.emit("message", { name: socket.data.name || "anonymous", text });
      if (typeof ack === "function") ack({ ok: true });
    });

    socket.on("whoami", (ack) => {
      ack({
        sid: socket.id,
        conn: socket.conn.id,
        recovered: socket.recovered,
        auth: socket.handshake.auth,
        query: socket.handshake.query,
        header: socket.handshake.headers["x-test-header"] || null,
        transport: socket.conn.transport.name,
        nsp: socket.nsp.name,
      });
    });

    socket.on("emit_to_me", (event, ...args) => {
      socket.emit(event, ...args);
    });

    socket.on("call_me", async (event, args, ack) => {
      try {
        const answer = await socket.timeout(5000).emitWithAck(event, ...args);
        ack([answer]);
      } catch (e) {
        ack({ error: String(e && e.message) });
      }
    });

    socket.on("drop_me", (missed) => {
      const room = socket.id;
      socket.conn.close();
      for (let i = 0; i < (missed || 0); i++) {
        nsp.to(room).emit("missed", i);
      }
    });

    socket.on("server_disconnect", () => {
      socket.disconnect();
    });

    socket.on("freeze", (ms) => {
      const end = Date.now() + ms;
      while (Date.now() < end) {
        // busy wait: nothing else runs, not even the heartbeat timers
      }
    });

    socket.on("broadcast", (event, ...args) => {
      nsp.emit(event, ...args);
    });
  });
}

for (const name of namespaces) {
  setup(io.of(name));
}

httpServer.listen(opts.port || 0, "127.0.0.1", () => {
  process.stdout.write(JSON.stringify({ port: httpServer.address().port }) + "\n");
});

function shutdown() {
  io.close();
  process.exit(0);
}
process.on("SIGTERM", shutdown);
process.stdin.on("end", shutdown);
process.stdin.on("close", shutdown);
process.stdin.resume();
