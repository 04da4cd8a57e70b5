// The figure of an experiment drawn in the browser (optlessons.widgets.canvas.BrowserFigure).
//
// matplotlib renders the background (contours, axes, ticks, legend) once per view and sends it
// as a PNG with, for each axes, its box in pixels and its data limits; while a slider moves the
// kernel sends only the moving lines as numbers, and this module draws them over the background
// with the same data -> pixel map as matplotlib's transData, then shows the result in the
// figure's <img> (its title and alt: the figure's alt text, stating what it shows now).

// Data (x, y) -> canvas pixels for an axes {bbox: [x0, y0, x1, y1], xlim, ylim} of a figure
// `height` pixels tall: matplotlib's transData for linear axes (transLimits then transAxes),
// with its y axis (up, origin at the bottom) turned into the canvas's (down, origin at the top).
export function toPixels(axes, height, x, y) {
  const [x0, y0, x1, y1] = axes.bbox;
  const [xa, xb] = axes.xlim;
  const [ya, yb] = axes.ylim;
  return [x0 + (x - xa) / (xb - xa) * (x1 - x0), height - (y0 + (y - ya) / (yb - ya) * (y1 - y0))];
}

function floats(view) {
  return new Float64Array(view.buffer.slice(view.byteOffset, view.byteOffset + view.byteLength));
}

function bitmap(view) {
  return createImageBitmap(new Blob([view], { type: 'image/png' }));
}

// One moving line: its path (broken at non-finite points), clipped to its axes, then its markers.
function drawLine(ctx, line, axes, height, sprites) {
  const xy = floats(line.xy);
  const [x0, y0, x1, y1] = axes.bbox;
  ctx.save();
  ctx.beginPath();
  ctx.rect(x0, height - y1, x1 - x0, y1 - y0);
  ctx.clip();
  const points = [];
  for (let i = 0; i < xy.length; i += 2) {
    points.push(Number.isFinite(xy[i]) && Number.isFinite(xy[i + 1]) ? toPixels(axes, height, xy[i], xy[i + 1]) : null);
  }
  if (line.width > 0 && line.dashes) {
    ctx.beginPath();
    let pen = false;
    for (const p of points) {
      if (!p) { pen = false; continue; }
      if (pen) ctx.lineTo(p[0], p[1]); else ctx.moveTo(p[0], p[1]);
      pen = true;
    }
    ctx.strokeStyle = line.color;
    ctx.globalAlpha = line.alpha;
    ctx.lineWidth = line.width;
    ctx.lineJoin = 'round';
    ctx.lineCap = line.dashes.pattern.length ? 'butt' : 'square';     // matplotlib: dashes butt, solid projecting
    ctx.setLineDash(line.dashes.pattern);
    ctx.lineDashOffset = line.dashes.offset;
    ctx.stroke();
    ctx.globalAlpha = 1;
  }
  const sprite = line.marker && sprites[line.marker];
  if (sprite) {
    for (const i of line.marks) {
      const p = points[i];
      if (p) ctx.drawImage(sprite.image, Math.round(p[0] - sprite.center), Math.round(p[1] - sprite.center));
    }
  }
  ctx.restore();
}

// Everything a frame needs, decoded: the background and the marker sprites (each decoded once).
async function decoded(model, cache) {
  const background = model.get('background');
  if (cache.backgroundBytes !== background) {
    cache.backgroundBytes = background;
    cache.background = background && background.byteLength ? await bitmap(background) : null;
  }
  const sprites = {};
  for (const [key, sprite] of Object.entries(model.get('sprites'))) {
    if (!cache.sprites[key]) cache.sprites[key] = { image: await bitmap(sprite.png), center: sprite.center };
    sprites[key] = cache.sprites[key];
  }
  return { background: cache.background, sprites };
}

// Draws the model's latest state on `canvas`: the background, then each line in order.
export async function drawFrame(canvas, model, cache) {
  const { background, sprites } = await decoded(model, cache);
  const view = model.get('view');
  if (!background || !view.size) return false;
  const [width, height] = view.size;
  if (canvas.width !== width || canvas.height !== height) {
    canvas.width = width;
    canvas.height = height;
  }
  const ctx = canvas.getContext('2d');
  ctx.drawImage(background, 0, 0);
  for (const line of model.get('lines')) drawLine(ctx, line, view.axes[line.axes], height, sprites);
  return true;
}

function render({ model, el }) {
  const img = document.createElement('img');
  img.className = 'optlessons-figure';
  const width = model.get('width');
  if (width) img.style.width = width;
  img.style.maxWidth = '100%';
  el.appendChild(img);
  const canvas = document.createElement('canvas');
  const cache = { sprites: {} };
  let busy = false, again = false;
  const describe = () => {
    img.alt = model.get('tooltip');
    img.title = model.get('tooltip');
  };
  // Latest wins: a frame that arrives while one is being drawn is drawn next, with the state then.
  const paint = async () => {
    if (busy) { again = true; return; }
    busy = true;
    try {
      do {
        again = false;
        const frame = model.get('frame');
        if (!(await drawFrame(canvas, model, cache))) continue;
        // toDataURL encodes at once (toBlob waits for an idle period: 40 ms against 12 ms measured)
        img.dataset.frame = String(frame);
        img.src = canvas.toDataURL('image/png');
        describe();
      } while (again);
    } finally {
      busy = false;
    }
  };
  model.on('change:frame', paint);
  model.on('change:tooltip', describe);
  describe();
  paint();
}

export default { render };
