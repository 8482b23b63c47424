// The conversation lives in the page; each question posts all of it to the app's /chat, which streams the
// answer back as server-sent events: `chunk` (a piece of text), then `done`, or `error` with the reason.
const conversation = document.getElementById("conversation");
const form = document.getElementById("ask");
const question = document.getElementById("question");
const send = document.getElementById("send");
const history = [];

function bubble(role, text) {
  const element = document.createElement("div");
  element.className = `message ${role}`;
  element.textContent = text;
  conversation.append(element);
  return element;
}

function fail(answer, reason) {
  answer.dataset.state = "error";
  answer.classList.add("error");
  answer.setAttribute("role", "alert");
  answer.append(document.createTextNode(answer.textContent ? `\n${reason}` : reason));
}

// Reads the event stream; calls onEvent(name, data) for each event, `reads` counting the network reads so far.
async function readEvents(body, onEvent) {
  const reader = body.pipeThrough(new TextDecoderStream()).getReader();
  let buffered = "";
  for (let reads = 1; ; reads++) {
    const { value, done } = await reader.read();
    if (done) return;
    buffered += value;
    let end;
    while ((end = buffered.indexOf("\n\n")) >= 0) {
      const lines = buffered.slice(0, end).split("\n");
      buffered = buffered.slice(end + 2);
      const name = lines.find((line) => line.startsWith("event: "))?.slice(7) ?? "message";
      const data = lines.find((line) => line.startsWith("data: "))?.slice(6);
      onEvent(name, data === undefined ? null : JSON.parse(data), reads);
    }
  }
}

async function ask(text) {
  history.push({ role: "user", content: text });
  bubble("user", text);
  const answer = bubble("assistant", "");
  answer.dataset.state = "streaming";
  await stream(answer);
  if (answer.dataset.state === "done") history.push({ role: "assistant", content: answer.textContent });
  else history.pop(); // a question without an answer is not sent again with the next one
}

async function stream(answer) {
  let response;
  try {
    response = await fetch("chat", {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify({ messages: history }),
    });
  } catch (error) {
    return fail(answer, `the chat app did not answer: ${error}`);
  }
  if (!response.ok) {
    const reason = await response.json().then((body) => body.error, () => response.statusText);
    return fail(answer, `HTTP ${response.status}: ${reason}`);
  }
  await readEvents(response.body, (name, data, reads) => {
    if (name === "chunk") {
      const piece = document.createElement("span");
      piece.className = "chunk";
      piece.dataset.read = reads; // which network read brought it: more than one means it really streamed
      piece.textContent = data;
      answer.append(piece);
    } else if (name === "done") {
      answer.dataset.state = "done";
    } else if (name === "error") {
      fail(answer, data);
    }
  }).catch((error) => fail(answer, `the answer broke off: ${error}`));
  if (answer.dataset.state === "streaming") fail(answer, "the answer ended without a `done` event");
}

form.addEventListener("submit", async (event) => {
  event.preventDefault();
  const text = question.value.trim();
  if (!text) return;
  question.value = "";
  send.disabled = true;
  try {
    await ask(text);
  } finally {
    send.disabled = false;
    question.focus();
  }
});
