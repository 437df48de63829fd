import ELK from 'elkjs/lib/elk.bundled.js';

const elk = new ELK();
export const NODE_W = 170;
export const NODE_H = 56;

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
