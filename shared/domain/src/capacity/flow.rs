//! Min-cost max-flow (successive shortest paths with Bellman-Ford), in integer units.
//!
//! The capacity check is a transportation problem per week: demanded hours by role →
//! resources who can fill the role → each resource's available hours. Max flow finds a
//! staffing whenever one exists (a greedy pass does not: it can spend a multi-skilled
//! person on the wrong role); min cost then prefers internal people over partners and
//! people already on the role.

/// Nodes per graph, a bound well above 2 + roles + resources.
pub const FLOW_NODES_MAX: usize = 100_000;

#[derive(Debug, Clone)]
struct Edge {
    to: usize,
    capacity: i64,
    cost: i64,
    flow: i64,
}

/// A flow network; edges are added in pairs (forward, residual).
#[derive(Debug, Clone, Default)]
pub struct FlowGraph {
    edges: Vec<Edge>,
    adjacency: Vec<Vec<usize>>,
}

impl FlowGraph {
    pub fn new(nodes: usize) -> Self {
        FlowGraph {
            edges: Vec::new(),
            adjacency: vec![Vec::new(); nodes.min(FLOW_NODES_MAX)],
        }
    }

    pub fn node_count(&self) -> usize {
        self.adjacency.len()
    }

    /// Forward edges only (each has a residual twin).
    pub fn edge_count(&self) -> usize {
        self.edges.len() / 2
    }

    /// Adds an edge and returns its id (for [`FlowGraph::flow`]).
    pub fn add_edge(&mut self, from: usize, to: usize, capacity: i64, cost: i64) -> usize {
        let id = self.edges.len();
        self.edges.push(Edge {
            to,
            capacity,
            cost,
            flow: 0,
        });
        self.edges.push(Edge {
            to: from,
            capacity: 0,
            cost: -cost,
            flow: 0,
        });
        self.adjacency[from].push(id);
        self.adjacency[to].push(id + 1);
        id
    }

    pub fn flow(&self, edge: usize) -> i64 {
        self.edges[edge].flow
    }

    fn residual(&self, edge: usize) -> i64 {
        self.edges[edge].capacity - self.edges[edge].flow
    }

    /// Pushes as much flow as possible from `source` to `sink` at least cost; returns
    /// (flow, cost). Each augmentation saturates at least one edge, so the loop is bounded
    /// by the number of edges times the distinct path costs; `augmentations_max` caps it.
    pub fn min_cost_max_flow(
        &mut self,
        source: usize,
        sink: usize,
        augmentations_max: usize,
    ) -> (i64, i64) {
        let (mut total_flow, mut total_cost) = (0, 0);
        for _ in 0..augmentations_max {
            let Some((path, cost)) = self.shortest_path(source, sink) else {
                break;
            };
            let push = path.iter().map(|&e| self.residual(e)).min().unwrap_or(0);
            if push <= 0 {
                break;
            }
            for &e in &path {
                self.edges[e].flow += push;
                self.edges[e ^ 1].flow -= push;
            }
            total_flow += push;
            total_cost += push * cost;
        }
        (total_flow, total_cost)
    }

    /// The cheapest residual path (SPFA: Bellman-Ford with a queue), as edge ids.
    fn shortest_path(&self, source: usize, sink: usize) -> Option<(Vec<usize>, i64)> {
        let n = self.node_count();
        let mut distance = vec![i64::MAX; n];
        let mut via = vec![usize::MAX; n];
        let mut queued = vec![false; n];
        let mut queue = std::collections::VecDeque::with_capacity(n);
        distance[source] = 0;
        queue.push_back(source);
        queued[source] = true;
        // Bellman-Ford bound: no node relaxes more than n times without a negative cycle,
        // which residual graphs of min-cost augmentation do not have.
        let mut relaxations_left = n.saturating_mul(self.edges.len().max(1));
        while let Some(node) = queue.pop_front() {
            queued[node] = false;
            for &e in &self.adjacency[node] {
                let edge = &self.edges[e];
                if edge.capacity - edge.flow <= 0 {
                    continue;
                }
                let candidate = distance[node] + edge.cost;
                if candidate < distance[edge.to] {
                    distance[edge.to] = candidate;
                    via[edge.to] = e;
                    if !queued[edge.to] {
                        queued[edge.to] = true;
                        queue.push_back(edge.to);
                    }
                }
                relaxations_left = relaxations_left.saturating_sub(1);
                if relaxations_left == 0 {
                    return None;
                }
            }
        }
        if distance[sink] == i64::MAX {
            return None;
        }
        let mut path = Vec::new();
        let mut node = sink;
        while node != source {
            let e = via[node];
            path.push(e);
            node = self.edges[e ^ 1].to;
        }
        path.reverse();
        Some((path, distance[sink]))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_the_cheapest_maximum_flow() {
        // s=0, a=1, b=2, t=3: two routes, the cheap one has less capacity.
        let mut g = FlowGraph::new(4);
        let cheap = g.add_edge(0, 1, 5, 1);
        let dear = g.add_edge(0, 2, 10, 5);
        g.add_edge(1, 3, 5, 0);
        g.add_edge(2, 3, 10, 0);
        assert_eq!(g.min_cost_max_flow(0, 3, 100), (15, 5 + 50));
        assert_eq!((g.flow(cheap), g.flow(dear)), (5, 10));
    }

    #[test]
    fn reroutes_through_residual_edges() {
        // The classic case a greedy pass gets wrong: r1 can go to p1 or p2, r2 only to p1.
        // s=0, r1=1, r2=2, p1=3, p2=4, t=5
        let mut g = FlowGraph::new(6);
        g.add_edge(0, 1, 10, 0);
        g.add_edge(0, 2, 10, 0);
        g.add_edge(1, 3, 10, 0); // explored first
        g.add_edge(1, 4, 10, 0);
        g.add_edge(2, 3, 10, 0);
        g.add_edge(3, 5, 10, 0);
        g.add_edge(4, 5, 10, 0);
        assert_eq!(g.min_cost_max_flow(0, 5, 100).0, 20);
    }
}
