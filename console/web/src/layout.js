import ELK from 'elkjs/lib/elk.bundled.js';

import { NODE_H, NODE_W } from './depth.js';

export { ELK_MAX, NODE_H, NODE_W, byDepth, depths } from './depth.js';

const elk = new ELK();

// Positions for nodes from a layered left-to-right layout of the edges (ELK, as Airflow 3).
export async function layout(nodes, edges) {
  const graph = await elk.layout({
    id: 'root',
    layoutOptions: {
      'elk.algorithm': 'layered',
      'elk.direction': 'RIGHT',
      'elk.spacing.nodeNode': '30',
      'elk.layered.spacing.nodeNodeBetweenLayers': '60',
    },
    children: nodes.map((n) => ({ id: n.id, width: NODE_W, height: NODE_H })),
    edges: edges.map((e) => ({ id: e.id, sources: [e.source], targets: [e.target] })),
  });
  const at = Object.fromEntries(graph.children.map((c) => [c.id, { x: c.x, y: c.y }]));
  return nodes.map((n) => ({ ...n, position: at[n.id] || n.position }));
}
