// Text a person cannot read whole on the shown screen: each HTML text run and each SVG <text>
// plotly drew must lie inside its panel, inside every box between them that clips, and inside
// the viewport; no ellipsis unless the element is meant to truncate ([data-truncates]); no two
// HTML text runs of different elements drawn over each other. Returns [{where, text, why}].
const SLACK = 1.5;
const frame = Array.from(document.querySelectorAll('.screen-frame'))
  .find(f => !f.classList.contains('screen-frame--hidden')) || document.body;
const view = {left: 0, top: 0, right: innerWidth, bottom: innerHeight};
const problems = [];
const PANELS = '.tile, .kpi-card, .ward-panel, .count-box, .screen-header, .screen-footer, .alarm-banner';
const describe = el => {
  const parts = [];
  for (let e = el; e && e !== frame && parts.length < 3; e = e.parentElement) {
    const cls = typeof e.className === 'string' && e.className.trim()
      ? '.' + e.className.trim().split(/\s+/).slice(0, 2).join('.') : '';
    parts.unshift(e.tagName.toLowerCase() + (e.id ? '#' + e.id : '') + cls);
  }
  return parts.join(' > ');
};
const outside = (r, box) => r.left < box.left - SLACK || r.right > box.right + SLACK
  || r.top < box.top - SLACK || r.bottom > box.bottom + SLACK;
const shown = el => {
  for (let e = el; e; e = e.parentElement) {
    const s = getComputedStyle(e);
    if (s.display === 'none' || s.visibility === 'hidden' || s.opacity === '0') return false;
  }
  return true;
};
// The boxes that clip `el`'s content: ancestors with overflow other than visible, up to its panel.
const clippers = el => {
  const boxes = [];
  const panel = el.closest(PANELS);
  for (let e = el.parentElement; e && e !== document.body; e = e.parentElement) {
    const s = getComputedStyle(e);
    if (s.overflowX !== 'visible' || s.overflowY !== 'visible') boxes.push(e);
    if (e === panel) break;
  }
  if (panel) boxes.push(panel);
  return boxes;
};
const note = (el, text, why) => {
  const r = el.getBoundingClientRect();
  problems.push({where: describe(el), text: text.trim().slice(0, 80), why,
                 at: [r.left, r.top, r.right, r.bottom].map(Math.round)});
};
const runs = [];
const walker = document.createTreeWalker(frame, NodeFilter.SHOW_TEXT);
for (let n = walker.nextNode(); n; n = walker.nextNode()) {
  const el = n.parentElement;
  if (!n.textContent.trim() || !el || el.closest('svg, script, style, [data-truncates]')) continue;
  if (!shown(el)) continue;
  const range = document.createRange();
  range.selectNodeContents(n);
  const rects = Array.from(range.getClientRects()).filter(r => r.width > 0 && r.height > 0);
  if (!rects.length) continue;
  const s = getComputedStyle(el);
  if (s.textOverflow === 'ellipsis' && (el.scrollWidth > el.clientWidth + 1)) {
    note(el, n.textContent, 'cut by an ellipsis');
    continue;
  }
  if (rects.some(r => outside(r, view))) {
    note(el, n.textContent, 'outside the screen');
    continue;
  }
  const cut = clippers(el).find(box => rects.some(r => outside(r, box.getBoundingClientRect())));
  if (cut) {
    const c = cut.getBoundingClientRect();
    note(el, n.textContent, 'outside ' + describe(cut) + ' ' + JSON.stringify([c.left, c.top, c.right, c.bottom].map(Math.round)));
    continue;
  }
  rects.forEach(r => runs.push({el, r, text: n.textContent}));
}
// Text of two different elements drawn over each other (e.g. a header's words under the clock).
for (let i = 0; i < runs.length; i++) {
  for (let j = i + 1; j < runs.length; j++) {
    const a = runs[i], b = runs[j];
    if (a.el === b.el || a.el.contains(b.el) || b.el.contains(a.el)) continue;
    // Line boxes of large text overlap a little by design: words on the same line only.
    const w = Math.min(a.r.right, b.r.right) - Math.max(a.r.left, b.r.left);
    const h = Math.min(a.r.bottom, b.r.bottom) - Math.max(a.r.top, b.r.top);
    if (w > 2 && h > 0.5 * Math.min(a.r.height, b.r.height)) note(a.el, a.text + ' ✕ ' + b.text, 'drawn over ' + describe(b.el));
  }
}
// Plotly's SVG text: inside its figure, its panel and the screen; no label cut with an ellipsis.
for (const t of frame.querySelectorAll('.js-plotly-plot svg text')) {
  const text = t.textContent;
  if (!text.trim() || !shown(t) || t.closest('[data-truncates]')) continue;
  const r = t.getBoundingClientRect();
  if (r.width === 0 || r.height === 0) continue;
  const plot = t.closest('.js-plotly-plot');
  const panel = plot.closest(PANELS) || plot;
  if (outside(r, view)) note(t, text, 'outside the screen');
  else if (outside(r, plot.getBoundingClientRect())) note(t, text, 'outside its figure');
  else if (outside(r, panel.getBoundingClientRect())) note(t, text, 'outside ' + describe(panel));
  else if (/…$/.test(text.trim())) note(t, text, 'cut by an ellipsis');
}
return problems;
