// The console's live feed (/ws/agent): numbered events, resumed after a reconnect.
//
// The last sequence number seen is kept; a reconnect asks for everything after it, and
// anything at or below it is dropped, so every event is handled exactly once and in
// order. Reconnects back off exponentially with jitter, and start at once when the
// browser says the network is back. A "resync" means the gap was too
// old for the hub's buffer: the console reloads its lists from the API.
export class LiveFeed extends EventTarget {
  constructor() {
    super();
    this.lastSeq = Number(sessionStorage.getItem("contacthub.last_seq") || 0);
    this.attempt = 0;
    this.ws = null;
    this.stopped = false;
    this.connected = false;
  }

  start() {
    this.stopped = false;
    // A socket does not notice a lost network for minutes; the browser does at once.
    window.addEventListener("offline", () => this.drop());
    window.addEventListener("online", () => this.reconnectNow());
    this.connect();
  }

  drop() {
    if (this.ws && this.ws.readyState <= WebSocket.OPEN) this.ws.close(4000, "offline");
  }

  reconnectNow() {
    if (this.stopped || this.connected) return;
    clearTimeout(this.timer);
    this.attempt = 0;
    this.connect();
  }

  stop() {
    this.stopped = true;
    clearTimeout(this.timer);
    if (this.ws) this.ws.close(1000);
  }

  connect() {
    const scheme = location.protocol === "https:" ? "wss" : "ws";
    const ws = new WebSocket(`${scheme}://${location.host}/ws/agent?last_seq=${this.lastSeq}`);
    this.ws = ws;
    ws.onopen = () => {
      this.attempt = 0;
      this.connected = true;
      this.dispatchEvent(new CustomEvent("status", { detail: "connected" }));
    };
    ws.onmessage = (msg) => {
      let event;
      try { event = JSON.parse(msg.data); } catch { return; }
      if (event.topic === "resync") {
        this.remember(event.seq);
        this.dispatchEvent(new CustomEvent("resync"));
        return;
      }
      if (event.seq <= this.lastSeq) return; // seen before the reconnect
      this.remember(event.seq);
      this.dispatchEvent(new CustomEvent("event", { detail: event }));
    };
    ws.onclose = (close) => {
      this.connected = false;
      if (this.ws !== ws) return;
      if (close.code === 4401) {
        this.dispatchEvent(new CustomEvent("signedout"));
        return;
      }
      if (this.stopped) return;
      this.dispatchEvent(new CustomEvent("status", { detail: "offline" }));
      clearTimeout(this.timer);
      const base = Math.min(30000, 500 * 2 ** this.attempt++);
      this.timer = setTimeout(() => this.connect(), base / 2 + Math.random() * base / 2);
    };
  }

  remember(seq) {
    this.lastSeq = seq;
    sessionStorage.setItem("contacthub.last_seq", String(seq));
  }

  // Viewing and typing are moments: while offline they are dropped, not queued.
  send(message) {
    if (this.ws && this.ws.readyState === WebSocket.OPEN) this.ws.send(JSON.stringify(message));
  }
}
