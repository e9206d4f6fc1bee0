#!/usr/bin/python3
"""Renders `shrink report` pages in headless Chromium at 1280 and 800 CSS px and checks them there.

For each page and width:
  * the page as written is opened with console logging on: no console message may appear;
  * a copy with one inline probe script appended is opened with --dump-dom: the probe measures, with the
    browser's own fonts and layout, every plot's box, every SVG text label's box (no two labels of one plot may
    intersect), every legend entry (no two may intersect), whether anything is wider than the window, and every
    resource the page fetched (there must be none);
  * the page is screenshotted to PNG at its full height, and every plot's area must hold non-background
    pixels; the page height must be plausible.
PNGs go to the artefact folder (argument 2), never into the repository.

Usage: check_report_browser.py PAGES_DIR ARTEFACTS_DIR   (every *.html in PAGES_DIR)
"""
import json
import os
import re
import subprocess
import sys
import time

from PIL import Image  # Debian python3-pil

WIDTHS = [1280, 800]

PROBE = r"""
<script>
(function () {
  function box(e) { var r = e.getBoundingClientRect(); return {x: r.left + scrollX, y: r.top + scrollY, w: r.width, h: r.height}; }
  function meet(a, b) { return a.x < b.x + b.w - 0.5 && b.x < a.x + a.w - 0.5 && a.y < b.y + b.h - 0.5 && b.y < a.y + a.h - 0.5; }
  var out = {plots: [], overlaps: [], legendOverlaps: [], width: document.documentElement.scrollWidth,
             height: document.documentElement.scrollHeight, window: innerWidth,
             resources: performance.getEntriesByType('resource').map(function (e) { return e.name; })};
  document.querySelectorAll('svg.plot').forEach(function (svg, i) {
    var area = svg.querySelector('rect.area');
    out.plots.push({svg: box(svg), area: area ? box(area) : null});
    var texts = Array.prototype.map.call(svg.querySelectorAll('text'), function (t) { return {t: t.textContent, b: box(t)}; })
      .filter(function (t) { return t.b.w > 0; });
    for (var a = 0; a < texts.length; a++) for (var b = a + 1; b < texts.length; b++)
      if (meet(texts[a].b, texts[b].b)) out.overlaps.push([i, texts[a].t, texts[b].t]);
  });
  document.querySelectorAll('ul.legend').forEach(function (ul, i) {
    var items = Array.prototype.map.call(ul.querySelectorAll('li'), function (l) { return {t: l.textContent, b: box(l)}; });
    for (var a = 0; a < items.length; a++) for (var b = a + 1; b < items.length; b++)
      if (meet(items[a].b, items[b].b)) out.legendOverlaps.push([i, items[a].t, items[b].t]);
  });
  var pre = document.createElement('pre'); pre.id = 'probe-result'; pre.textContent = JSON.stringify(out);
  document.body.appendChild(pre);
})();
</script>
"""


def chromium(args, timeout=120):
    base = ["chromium", "--headless=new", "--no-sandbox", "--disable-gpu", "--hide-scrollbars", "--force-device-scale-factor=1",
            "--no-first-run", "--disable-extensions", "--allow-file-access-from-files"]
    return subprocess.run(base + args, capture_output=True, text=True, timeout=timeout)


def inked(image, box):
    """Pixels in the box (sampled every other column) that are not the plot's white background."""
    x0, y0 = max(0, int(box["x"]) + 2), max(0, int(box["y"]) + 2)
    x1, y1 = min(image.width, int(box["x"] + box["w"]) - 2), min(image.height, int(box["y"] + box["h"]) - 2)
    if x1 <= x0 or y1 <= y0:
        return 0
    crop = image.crop((x0, y0, x1, y1)).convert("L")
    return sum(crop.histogram()[:235])


def main():
    pages_dir, art = sys.argv[1], sys.argv[2]
    os.makedirs(art, exist_ok=True)
    pages = sorted(f for f in os.listdir(pages_dir) if f.endswith(".html"))
    if not pages:
        sys.exit(f"check_report_browser: no .html page in {pages_dir}")
    failures, t0 = [], time.time()
    for page in pages:
        path = os.path.abspath(os.path.join(pages_dir, page))
        html = open(path, encoding="utf-8").read()
        probe = os.path.join(art, page.replace(".html", ".probe.html"))
        open(probe, "w", encoding="utf-8").write(html.replace("</body>", PROBE + "</body>"))
        for w in WIDTHS:
            r = chromium([f"--window-size={w},900", "--virtual-time-budget=2000", "--dump-dom", "file://" + probe])
            m = re.search(r'<pre id="probe-result">(.*?)</pre>', r.stdout, re.S)
            if not m:
                failures.append(f"{page} @{w}: the probe did not run: {r.stderr[-500:]}")
                continue
            res = json.loads(m.group(1).replace("&quot;", '"').replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&"))
            name = f"{page} @{w}px"
            before = len(failures)
            if res["resources"]: failures.append(f"{name}: the page fetches {res['resources'][:5]}")
            if res["overlaps"]: failures.append(f"{name}: SVG labels overlap: {res['overlaps'][:5]}")
            if res["legendOverlaps"]: failures.append(f"{name}: legend entries overlap: {res['legendOverlaps'][:5]}")
            if res["width"] > res["window"]: failures.append(f"{name}: the page is {res['width']} px wide in a {res['window']} px window")
            height = res["height"]
            plots_height = sum(p["svg"]["h"] for p in res["plots"])
            if not (plots_height <= height <= 200 + 1200 * max(1, len(res["plots"]))):
                failures.append(f"{name}: implausible page height {height} px for {len(res['plots'])} plots ({plots_height:.0f} px of plots)")
            # The page as written: console errors, and a full-height screenshot.
            png = os.path.join(art, page.replace(".html", f"-{w}.png"))
            shot = chromium([f"--window-size={w},{height}", "--enable-logging=stderr", "--v=0", f"--screenshot={png}", "file://" + path])
            console = [l for l in shot.stderr.splitlines() if "CONSOLE" in l or "Uncaught" in l]
            if console: failures.append(f"{name}: console messages: {console[:3]}")
            if not os.path.exists(png):
                failures.append(f"{name}: no screenshot: {shot.stderr[-300:]}")
                continue
            image = Image.open(png)
            if image.height < height - 1: failures.append(f"{name}: the screenshot is {image.height} px high, the page {height}")
            blank = [i for i, p in enumerate(res["plots"]) if p["area"] and inked(image, p["area"]) < 50]
            if blank: failures.append(f"{name}: plots {blank} draw nothing in their plot area")
            if len(failures) == before:
                print(f"ok  {name}: {len(res['plots'])} plots, height {height} px, no overlaps, {os.path.getsize(png)} bytes of PNG")
        os.remove(probe)
    print(f"browser check: {len(pages)} pages × {len(WIDTHS)} widths in {time.time() - t0:.1f} s; PNGs in {art}")
    if failures:
        print("\n".join("FAILED  " + f for f in failures))
        sys.exit(1)


if __name__ == "__main__":
    main()
