// The reference front end of the tidings HTTP API (protocol-spec/http.md):
// it only renders what the chan read API answers, posts with a form to
// /{board}/post, and re-reads what it shows when the event stream says
// something on the board changed. No build step, no framework.
"use strict";

const view = document.getElementById("view");
const crumbs = document.getElementById("crumbs");
const live = document.getElementById("live");
let shown = null; // { board, thread } of the page on screen

function el(tag, attrs, ...children) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (k === "class") node.className = v;
    else node.setAttribute(k, v);
  }
  for (const child of children) {
    node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return node;
}

async function getJson(path) {
  const response = await fetch(path, { headers: { Accept: "application/json" } });
  const body = await response.json().catch(() => ({}));
  if (!response.ok) throw new Error(body.reason || response.statusText);
  return body;
}

function postElement(post, isOp) {
  const com = el("div", { class: "com" });
  // The API sends com HTML-escaped, lines joined by <br> (http.md §3.3).
  com.innerHTML = post.com;
  const when = new Date(post.time * 1000).toISOString().replace("T", " ").slice(0, 16);
  const file = fileElement(post);
  return el("article", { class: isOp ? "post op" : "post", id: "p" + post.no, "data-message-id": post.message_id },
    el("div", { class: "meta" },
      post.sub ? el("span", { class: "sub" }, post.sub, " ") : "",
      el("span", { class: "name" }, post.name), " ", when, " No.", post.no),
    file, com);
}

// A post's file (http.md §3.3, files.md §8): the image or video, or a
// moderator's placeholder for it; asking for one not here yet makes the
// node fetch it from a peer. A removed file is a note.
function fileElement(post) {
  if (post.file_state === "removed") return el("div", { class: "file missing" }, "[file removed]");
  if (!post.file_url) return "";
  const type = (post.files && post.files[0] && post.files[0].type) || "";
  const media = type.startsWith("video/")
    ? el("video", { src: post.file_url, controls: "", preload: "metadata", class: "thumb" })
    : el("img", { src: post.file_url, loading: "lazy", class: "thumb", alt: post.filename + post.ext });
  return el("div", { class: "file" }, el("a", { href: post.file_url, target: "_blank", rel: "noopener" }, media));
}

function postForm(board, thread) {
  const form = document.getElementById("post-form").content.firstElementChild.cloneNode(true);
  const status = form.querySelector(".form-status");
  if (thread) form.querySelector("[name=sub]").remove();
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const data = new FormData(form);
    if (thread) data.set("resto", String(thread));
    status.textContent = "posting…";
    status.className = "form-status";
    try {
      const response = await fetch("/" + encodeURIComponent(board) + "/post", { method: "POST", body: data });
      const body = await response.json().catch(() => ({}));
      if (!response.ok) throw new Error(body.reason || response.statusText);
      form.reset();
      // What was posted is shown when the event stream reports it.
      status.textContent = body.status === "filed" ? "posted as No. " + body.no : "received: " + body.status;
    } catch (e) {
      status.textContent = e.message;
      status.className = "form-status error";
    }
  });
  return form;
}

async function showBoards() {
  crumbs.replaceChildren();
  const { boards } = await getJson("/boards.json");
  const list = el("ul", { class: "boards" });
  for (const b of boards) {
    list.append(el("li", {}, el("a", { href: "#/" + b.board }, "/" + b.board + "/"), " ", b.title));
  }
  view.replaceChildren(el("h1", {}, "Boards"), list);
}

async function showCatalog(board) {
  crumbs.replaceChildren(el("a", { href: "#/" + board }, "/" + board + "/"));
  const pages = await getJson("/" + encodeURIComponent(board) + "/catalog.json");
  const grid = el("div", { class: "catalog" });
  for (const page of pages) {
    for (const t of page.threads) {
      const entry = el("div", { class: "entry" },
        el("a", { href: "#/" + board + "/thread/" + t.no }, t.sub || "No." + t.no),
        el("div", { class: "meta" }, t.replies + " replies"));
      const com = el("div", { class: "com" });
      com.innerHTML = t.com;
      entry.append(com);
      grid.append(entry);
    }
  }
  view.replaceChildren(el("h1", {}, "/" + board + "/"), postForm(board, null), grid);
}

async function showThread(board, no) {
  crumbs.replaceChildren(el("a", { href: "#/" + board }, "/" + board + "/"), " › No." + no);
  const { posts } = await getJson("/" + encodeURIComponent(board) + "/thread/" + no + ".json");
  const thread = el("section", { class: "thread" });
  posts.forEach((p, i) => thread.append(postElement(p, i === 0)));
  const form = view.querySelector(".post-form");
  // Keep a half-written reply when the thread is re-read.
  view.replaceChildren(thread, form && shown && shown.thread === no ? form : postForm(board, no));
}

async function route() {
  const parts = location.hash.replace(/^#\/?/, "").split("/").filter(Boolean).map(decodeURIComponent);
  try {
    if (parts.length === 0) {
      shown = null;
      await showBoards();
    } else if (parts.length >= 3 && parts[1] === "thread") {
      const no = Number(parts[2]);
      await showThread(parts[0], no);
      shown = { board: parts[0], thread: no };
    } else {
      shown = { board: parts[0], thread: null };
      await showCatalog(parts[0]);
    }
  } catch (e) {
    view.replaceChildren(el("p", { class: "error" }, e.message));
  }
}

// Changes that touch a board's pages (http.md §4.5).
const BOARD_EVENTS = ["created", "released", "approved", "moved", "restored", "edited", "removed"];

function follow() {
  const source = new EventSource("/api/v1/events");
  source.onopen = () => { live.textContent = "live"; live.className = "on"; };
  source.onerror = () => { live.textContent = "reconnecting"; live.className = ""; };
  const changed = (event) => {
    const change = JSON.parse(event.data);
    if (!shown) return;
    const boards = (change.boards || []).map((b) => b.board);
    // An edit or removal names no board; re-reading is cheap (ETag).
    if (boards.length === 0 || boards.includes(shown.board)) route();
  };
  for (const type of BOARD_EVENTS) source.addEventListener(type, changed);
  source.addEventListener("resync", () => { source.close(); route(); setTimeout(follow, 1000); });
}

window.addEventListener("hashchange", route);
route();
follow();
