// The baseline of the benchmarks: the reference Node socket.io v4 server
// implementing contract C1, the chat of the default gateway.yaml, with the
// same events, guards, acks and error codes as Gatehouse, and nothing else.
//
//   JWT_SECRET=dev-secret PORT=8090 node server.js
//
// The per-user rate limit of sendMessage/sendToRoom reads RATE_LIMIT (tokens
// per second) and RATE_BURST from the environment with the defaults of
// bench/gateway-bench.yaml, so that both servers apply the same rules.
// JWTs (HS256 only, exp required) are verified with node:crypto.
"use strict";

const http = require("node:http");
const crypto = require("node:crypto");
const { Server } = require("socket.io");

const secret = process.env.JWT_SECRET;
if (!secret) {
  console.error("JWT_SECRET is required");
  process.exit(2);
}
const port = Number(process.env.PORT || 8090);
const host = process.env.HOST || "127.0.0.1";
const rateLimit = Number(process.env.RATE_LIMIT || 100000);
const rateBurst = Number(process.env.RATE_BURST || 100000);
const secretKey = Buffer.from(secret, "utf8");

class CodedError extends Error {
  constructor(code, message) {
    super(message);
    this.code = code;
  }
}

function base64urlJSON(part) {
  return JSON.parse(Buffer.from(part, "base64url").toString("utf8"));
}

// verifyToken returns the claims of a valid HS256 token or throws a CodedError.
function verifyToken(token) {
  if (typeof token !== "string" || token.length === 0) {
    throw new CodedError("unauthorized", "authentication required");
  }
  if (token.length > 8192) {
    throw new CodedError("unauthorized", "token too large");
  }
  const parts = token.split(".");
  if (parts.length !== 3) {
    throw new CodedError("unauthorized", "malformed token");
  }
  let header, claims;
  try {
    header = base64urlJSON(parts[0]);
    claims = base64urlJSON(parts[1]);
  } catch {
    throw new CodedError("unauthorized", "malformed token");
  }
  if (!header || header.alg !== "HS256") {
    throw new CodedError("unauthorized", "unsupported algorithm");
  }
  const expected = crypto.createHmac("sha256", secretKey).update(parts[0] + "." + parts[1]).digest();
  const given = Buffer.from(parts[2], "base64url");
  if (given.length !== expected.length || !crypto.timingSafeEqual(given, expected)) {
    throw new CodedError("unauthorized", "invalid signature");
  }
  if (!claims || typeof claims !== "object" || typeof claims.exp !== "number") {
    throw new CodedError("unauthorized", "token has no exp");
  }
  const now = Date.now() / 1000;
  if (claims.exp <= now) {
    throw new CodedError("token_expired", "token expired");
  }
  if (typeof claims.nbf === "number" && claims.nbf > now) {
    throw new CodedError("unauthorized", "token not valid yet");
  }
  return claims;
}

// tokenOf reads the token where C1 accepts it: auth.token, then the
// Authorization header, then the token query parameter.
function tokenOf(handshake) {
  if (handshake.auth && typeof handshake.auth.token === "string") {
    return handshake.auth.token;
  }
  const authz = handshake.headers.authorization;
  if (typeof authz === "string" && authz.startsWith("Bearer ")) {
    return authz.slice(7);
  }
  return handshake.query.token;
}

// buckets holds one token bucket per user, as the per_user guard does.
const buckets = new Map();

function allow(user) {
  const now = performance.now() / 1000;
  let b = buckets.get(user);
  if (!b) {
    b = { tokens: rateBurst, at: now };
    buckets.set(user, b);
  }
  b.tokens = Math.min(rateBurst, b.tokens + (now - b.at) * rateLimit);
  b.at = now;
  if (b.tokens < 1) {
    throw new CodedError("rate_limited", "rate limit exceeded");
  }
  b.tokens -= 1;
}

function isObject(v) {
  return v !== null && typeof v === "object" && !Array.isArray(v);
}

function checkString(data, key) {
  const v = data[key];
  const max = key === "room" ? 200 : 2000;
  if (typeof v !== "string") {
    throw new CodedError("invalid_payload", `${key} must be a string`);
  }
  const length = [...v].length;
  if (length < 1 || length > max) {
    throw new CodedError("invalid_payload", `${key} must be 1 to ${max} characters`);
  }
}

function body(data, ...keys) {
  if (!isObject(data)) {
    throw new CodedError("invalid_payload", "payload must be an object");
  }
  for (const k of keys) {
    if (!(k in data)) {
      throw new CodedError("invalid_payload", `missing property ${k}`);
    }
  }
  for (const k of keys) {
    checkString(data, k);
  }
  return data;
}

const httpServer = http.createServer((req, res) => {
  if (req.url === "/healthz") {
    res.writeHead(200).end("ok");
    return;
  }
  res.writeHead(404).end();
});
const io = new Server(httpServer, { cors: { origin: "*" } });
const chat = io.of("/chat");

chat.use((socket, next) => {
  try {
    socket.data.user = verifyToken(tokenOf(socket.handshake));
    next();
  } catch (e) {
    const err = new Error(e.message);
    err.data = { code: e.code || "unauthorized" };
    next(err);
  }
});

const events = {
  sendMessage(socket, data) {
    const user = socket.data.user;
    allow(user.sub);
    body(data, "message");
    chat.emit("message", { user: user.sub, username: user.username ?? "", message: data.message });
    return { ok: true };
  },
  join(socket, data) {
    body(data, "room");
    socket.join(data.room);
    return { ok: true, room: data.room };
  },
  leave(socket, data) {
    body(data, "room");
    socket.leave(data.room);
    return { ok: true, room: data.room };
  },
  sendToRoom(socket, data) {
    const user = socket.data.user;
    allow(user.sub);
    body(data, "room", "message");
    if (!socket.rooms.has(data.room)) {
      throw new CodedError("forbidden", "you must join the room before sending to it");
    }
    chat.to(data.room).emit("message", {
      user: user.sub,
      username: user.username ?? "",
      room: data.room,
      message: data.message,
    });
    return { ok: true };
  },
  whoami(socket) {
    return socket.data.user;
  },
  announce(socket, data) {
    if (socket.data.user.role !== "admin") {
      throw new CodedError("forbidden", "admin only");
    }
    body(data, "message");
    chat.emit("announcement", { message: data.message });
    return { ok: true };
  },
};

chat.on("connection", (socket) => {
  socket.onAny((event, ...args) => {
    const ack = typeof args[args.length - 1] === "function" ? args.pop() : null;
    let reply;
    try {
      const handler = Object.hasOwn(events, event) ? events[event] : null;
      if (!handler) {
        throw new CodedError("unknown_event", `unknown event ${event}`);
      }
      reply = handler(socket, args[0]);
    } catch (e) {
      const code = e instanceof CodedError ? e.code : "internal";
      const message = e instanceof CodedError ? e.message : "internal error";
      if (ack) {
        ack({ error: { code, message } });
      } else {
        socket.emit("exception", { status: "error", code, message, event });
      }
      return;
    }
    if (ack) {
      ack(reply);
    }
  });
});

httpServer.listen(port, host, () => {
  console.log(`node socket.io baseline listening on ${host}:${port}`);
});

function stop() {
  io.close(() => process.exit(0));
  setTimeout(() => process.exit(0), 2000).unref();
}
process.on("SIGINT", stop);
process.on("SIGTERM", stop);
