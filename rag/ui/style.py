"""The chat's look and its little browser scripts, kept apart from the Python that wires events.

Colours are set for light and dark mode and checked for WCAG AA contrast (4.5:1) by the browser tests.
"""

from __future__ import annotations

PRODUCT = "rag · news articles, quoted"

CSS = """
:root { --rag-link: #1d4ed8; --rag-muted: #4b5563; --rag-mark-bg: #fde68a; --rag-mark-fg: #1f2937;
  --rag-q-bg: #eef2ff; --rag-border: #d1d5db; --rag-notice-bg: #fff7ed; --rag-notice-fg: #7c2d12;
  --rag-error-fg: #b91c1c; --rag-chip-bg: #e0e7ff; }
.dark { --rag-link: #93c5fd; --rag-muted: #cbd5e1; --rag-mark-bg: #fde68a; --rag-mark-fg: #111827;
  --rag-q-bg: #1e293b; --rag-border: #475569; --rag-notice-bg: #431407; --rag-notice-fg: #fed7aa;
  --rag-error-fg: #fca5a5; --rag-chip-bg: #1e3a8a; }
#title h1 { font-size: 1.6rem; margin: 0; }
#title p { margin: 2px 0 0; color: var(--rag-muted); }
#mode p { color: var(--rag-muted); font-size: .9em; margin: 0; }
.sr-only { position: absolute !important; width: 1px; height: 1px; overflow: hidden; clip: rect(0 0 0 0);
  white-space: nowrap; }
#chat .conv { display: flex; flex-direction: column; gap: 14px; color: var(--body-text-color);
  max-height: 64vh; overflow-y: auto; padding: 4px 2px; }
#chat .welcome p { color: var(--rag-muted); margin: 4px 0; }
#chat .fake-marker { color: var(--rag-link); font-weight: 600; }
#chat .turn { display: flex; flex-direction: column; gap: 6px; }
#chat .q { background: var(--rag-q-bg); border-radius: 10px; padding: 6px 12px; align-self: flex-end; max-width: 92%; }
#chat .q p { margin: 0; }
#chat .who { font-size: .8em; font-weight: 600; color: var(--rag-muted); }
#chat .a { border-left: 3px solid var(--rag-border); padding: 0 0 0 12px; }
#chat .text p { margin: .35em 0; line-height: 1.55; }
#chat .draft { color: var(--rag-muted); }
#chat .preview { font-size: .9em; font-style: italic; color: var(--rag-muted); margin: 2px 0 4px;
  border-left: 3px solid var(--rag-mark-bg); padding-left: 8px; }
#chat .status { color: var(--rag-muted); font-style: italic; margin: 4px 0; }
#chat .status .dot { display: inline-block; width: .6em; height: .6em; border-radius: 50%; margin-right: .45em;
  background: var(--rag-link); animation: rag-pulse 1s ease-in-out infinite alternate; }
@keyframes rag-pulse { from { opacity: .25; } to { opacity: 1; } }
#chat .error { color: var(--rag-error-fg); margin: 4px 0; }
#chat .notice { background: var(--rag-notice-bg); color: var(--rag-notice-fg); border-radius: 6px; padding: 4px 8px;
  margin: 4px 0; }
#chat .scope { color: var(--rag-muted); font-size: .9em; margin: 4px 0; }
#chat button.marker, #chat button.source { all: unset; cursor: pointer; color: var(--rag-link); font-weight: 600;
  border-radius: 4px; padding: 0 2px; }
#chat button.marker:hover, #chat button.source:hover { text-decoration: underline; }
#chat button.marker:focus-visible, #chat button.source:focus-visible, #chat button.copy:focus-visible,
#article button.close:focus-visible { outline: 2px solid var(--rag-link); outline-offset: 1px; }
#chat .sources h3 { font-size: .85em; margin: 6px 0 2px; color: var(--rag-muted); font-weight: 600; }
#chat .sources ol { list-style: none; padding: 0; margin: 0; }
#chat .sources li { margin: 3px 0; font-size: .92em; }
#chat .src-title { color: var(--rag-muted); }
#chat .sources .quote { display: block; margin: 2px 0 0 1.2em; font-style: italic; }
#chat .tools { margin-top: 4px; }
#chat button.copy { all: unset; cursor: pointer; font-size: .85em; color: var(--rag-link); padding: 1px 6px;
  border: 1px solid var(--rag-border); border-radius: 6px; }
#counter p { font-size: .85em; color: var(--rag-muted); margin: 0; text-align: right; }
#article .article-view { position: sticky; top: 8px; max-height: calc(100vh - 24px); display: flex;
  flex-direction: column; border: 1px solid var(--rag-border); border-radius: 8px; padding: 10px 14px;
  color: var(--body-text-color); background: var(--background-fill-primary); }
#article header { border-bottom: 1px solid var(--rag-border); padding-bottom: 4px; }
#article .article-head { display: flex; justify-content: space-between; align-items: center; gap: 8px; }
#article .kicker { font-size: .85em; color: var(--rag-muted); margin: 0; }
#article h2 { font-size: 1.2rem; margin: 6px 0 2px; }
#article .meta { color: var(--rag-muted); font-size: .9em; margin: 0 0 8px; }
#article .meta a { color: var(--rag-link); }
#article .article-text { white-space: pre-wrap; overflow-wrap: anywhere; line-height: 1.6; overflow-y: auto;
  flex: 1 1 auto; min-height: 0; padding-top: 6px; }
#article mark { background: var(--rag-mark-bg); color: var(--rag-mark-fg); padding: 1px 2px; border-radius: 3px;
  box-decoration-break: clone; -webkit-box-decoration-break: clone; }
#article button.close { cursor: pointer; color: var(--rag-link); background: transparent;
  border: 1px solid var(--rag-border); border-radius: 6px; padding: 2px 10px; font: inherit; }
@media (max-width: 640px) {
  #title h1 { font-size: 1.15rem; }
  #title p { display: none; }
  #mode p { font-size: .8em; }
  #actions button { padding-left: 4px; padding-right: 4px; font-size: .9rem; }
  #chat .conv { max-height: none; overflow: visible; }
  #article .article-view { position: fixed; inset: 0; z-index: 1000; max-height: none; height: 100%; border-radius: 0;
    border: none; padding: 12px 16px; }
}
"""

# js_on_load of the chat: markers and source buttons open their quote (the server renders the article),
# Copy puts the answer and its sources on the clipboard, and a live region announces finished answers.
CHAT_JS = """
let live = document.getElementById('rag-live');
if (!live) {
  live = document.createElement('div');
  live.id = 'rag-live'; live.className = 'sr-only';
  live.setAttribute('role', 'status'); live.setAttribute('aria-live', 'polite');
  document.body.appendChild(live);
}
element.addEventListener('click', async (event) => {
  const open = event.target.closest('button.marker, button.source');
  if (open) {
    window.ragLastMarker = open.id || null;
    trigger('click', {turn: Number(open.dataset.turn), n: Number(open.dataset.n)});
    return;
  }
  const copy = event.target.closest('button.copy');
  if (!copy) return;
  const text = copy.parentElement.querySelector('.copy-text').textContent;
  let ok = false;
  try { await navigator.clipboard.writeText(text); ok = true; } catch (error) {
    const area = document.createElement('textarea');
    area.value = text; document.body.appendChild(area); area.select();
    ok = document.execCommand('copy'); area.remove();
  }
  copy.textContent = ok ? 'Copied' : 'Copy failed';
  setTimeout(() => { copy.textContent = 'Copy'; }, 2500);
});
// The conversation is re-rendered on every streamed piece: keep it at the bottom while the reader is
// there, and where the reader scrolled to otherwise.
let stick = true, lastTop = 0;
element.addEventListener('scroll', (event) => {
  const conv = event.target;
  if (!conv.classList || !conv.classList.contains('conv')) return;
  lastTop = conv.scrollTop;
  stick = conv.scrollHeight - conv.scrollTop - conv.clientHeight < 40;
}, true);
// A focused marker previews its quote under the answer (hover shows the same as a tooltip).
element.addEventListener('focusin', (event) => {
  const marker = event.target.closest && event.target.closest('button.marker');
  const preview = marker && marker.closest('.a') ? marker.closest('.a').querySelector('.preview') : null;
  if (!preview) return;
  preview.textContent = marker.getAttribute('data-preview');
  preview.hidden = false;
});
element.addEventListener('focusout', (event) => {
  const marker = event.target.closest && event.target.closest('button.marker');
  const preview = marker && marker.closest('.a') ? marker.closest('.a').querySelector('.preview') : null;
  if (preview) preview.hidden = true;
});
watch('value', () => {
  const conv = element.querySelector('.conv');
  if (conv) {
    const asking = conv.dataset.turns !== element.dataset.turns;
    element.dataset.turns = conv.dataset.turns;
    if (asking) stick = true;
    conv.scrollTop = stick ? conv.scrollHeight : lastTop;
  }
  const root = element.querySelector('[data-announce]');
  const message = root ? root.dataset.announce : '';
  if (message && live.textContent !== message) live.textContent = message;
});
"""

# js_on_load of the article view: scroll to the quote when an article opens; Close and Escape shut it.
ARTICLE_JS = """
const close = () => { props.value = ''; };
element.addEventListener('click', (event) => { if (event.target.closest('button.close')) close(); });
element.addEventListener('keydown', (event) => { if (event.key === 'Escape') close(); });
watch('value', () => {
  const mark = element.querySelector('mark');
  if (!mark) return;
  element.querySelector('h2')?.focus({preventScroll: true});
  const view = element.querySelector('.article-view');
  const text = element.querySelector('.article-text');
  if (text && text.scrollHeight > text.clientHeight) {
    // scroll the article, not the page: the chat stays where the reader left it
    const top = mark.getBoundingClientRect().top - text.getBoundingClientRect().top + text.scrollTop;
    text.scrollTop = Math.max(0, top - text.clientHeight / 3);
  }
  const box = view ? view.getBoundingClientRect() : null;
  if (box && (box.top < 0 || box.top > window.innerHeight - 80)) view.scrollIntoView({block: 'start'});
});
"""


def theme():
    import gradio as gr

    # System fonts: the default theme would have the browser fetch fonts from the internet.
    # Primary buttons in a blue that keeps white text above 4.5:1 (Gradio's orange gives 2.8:1).
    return gr.themes.Default(
        primary_hue="blue", font=["system-ui", "sans-serif"], font_mono=["ui-monospace", "monospace"]
    ).set(
        button_primary_background_fill="#1d4ed8",
        button_primary_background_fill_hover="#1e40af",
        button_primary_background_fill_dark="#1d4ed8",
        button_primary_background_fill_hover_dark="#1e40af",
        button_primary_text_color="#ffffff",
        button_primary_text_color_dark="#ffffff",
        input_placeholder_color="#4b5563",
        input_placeholder_color_dark="#cbd5e1",
        block_label_text_color="#374151",
        block_label_text_color_dark="#e5e7eb",
    )
