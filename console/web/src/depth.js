// Laying a graph out by depth, without ELK (layout.js), for large graphs and previews.

export const NODE_W = 170;
export const NODE_H = 56;

// Above this many tasks a graph is laid out by depth: ELK's layered layout is better drawn but
// takes seconds at a thousand nodes.
export const ELK_MAX = 300;

// Each task's depth: 0 without upstream tasks, else one more than its deepest upstream task.
// deps: name -> names of its upstream tasks.
export function depths(deps) {
  const depth = {};
  const visit = (name, path) => {
    if (depth[name] !== undefined) return depth[name];
    if (path.has(name)) return 0;
    path.add(name);
    depth[name] = Math.max(-1, ...(deps[name] || []).filter((d) => d in deps).map((d) => visit(d, path))) + 1;
    path.delete(name);
    return depth[name];
  };
  Object.keys(deps).forEach((name) => visit(name, new Set()));
  return depth;
}

// Positions by depth: each depth a column, its tasks stacked in the order given.
export function byDepth(names, depth, { width = NODE_W, height = NODE_H, colGap = 60, rowGap = 20 } = {}) {
  const rows = {};
  return Object.fromEntries(names.map((name) => {
    const col = depth[name] || 0;
    const row = rows[col] || 0;
    rows[col] = row + 1;
    return [name, { x: col * (width + colGap), y: row * (height + rowGap) }];
  }));
}
