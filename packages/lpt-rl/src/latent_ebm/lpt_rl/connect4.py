"""Connect Four against a stochastic opponent (the LPT paper's Tab. 4 task, after ESPER, Paster,
McIlraith, Ba 2022), with an engine written here (no ``pettingzoo`` needed).

Board: 7 columns x 6 rows as a bitboard (column c, row r is bit 7 c + r; bit 7 c + 6 is a sentinel,
as in Pascal Pons' solver). The agent moves first ("x"); the environment answers with the opponent
("o"). Rewards: +1 when the agent connects four, -1 when the opponent does, 0 for a draw (full
board); step rewards are 0 otherwise, so the episode return is the outcome.

- Observation (84,): two 6 x 7 planes, the agent's stones then the opponent's (row-major from the
  bottom row), float32 in {0, 1} (ESPER's 2 x 7 x 6 one-hot grid, flattened).
- Action (7,): one score per column; the environment plays the legal column with the highest
  score (offline data stores 2 onehot - 1, so a Gaussian/tanh policy fits it as it fits any
  continuous action; the LPT code released no discrete-action head, quirk 9 of the notes).
- Opponent: depth-limited negamax with alpha-beta (``opponent_depth`` plies; a win scores more
  the sooner it comes; unresolved leaves are scored by the classic cell weights; ties broken at
  random) that deviates as ESPER's does: when its best move is the rightmost column it plays a
  uniformly random other legal column with probability 0.2. ESPER's opponent is an exact solver;
  depth-limited search is this package's substitute. Default depth 2 for CPU speed: it lost 1 of
  100 games to a uniformly random player here; at depth 4 it lost none (the test).
- Offline data (``connect4_dataset``): the 50/50 episode mixture of ESPER's commented-out recipe:
  a "specialised" policy (the rightmost column for its first 5 moves, then a random column, the
  rightmost with probability 0.1 more) and an epsilon = 0.01-greedy searching policy
  (``expert_depth`` = 4 plies: it beat the 2-ply opponent in 40 of 40 games here, the specialised
  policy about 1 in 9). The specialised opening exploits the opponent's deviation and sometimes
  wins by luck, so conditioning on a win alone does not identify the better policy.
"""

from __future__ import annotations

import numpy as np

from latent_ebm.core.checks import check_int, check_real

__all__ = ["COLS", "ROWS", "Board", "Connect4Env", "connect4_dataset", "expert_move", "negamax", "opponent_move",
           "specialised_move", "uci_positions"]

COLS, ROWS = 7, 6
_H1 = ROWS + 1
_ORDER = (3, 2, 4, 1, 5, 0, 6)  # centre first: better alpha-beta cut-offs
_BOTTOM = [1 << (_H1 * c) for c in range(COLS)]
_TOP = [1 << (ROWS - 1 + _H1 * c) for c in range(COLS)]
_WIN = 1000
# the classic cell weights (the number of four-windows through each cell), for unresolved leaves
_CELL_WEIGHT = ((3, 4, 5, 7, 5, 4, 3), (4, 6, 8, 10, 8, 6, 4), (5, 8, 11, 13, 11, 8, 5),
                (5, 8, 11, 13, 11, 8, 5), (4, 6, 8, 10, 8, 6, 4), (3, 4, 5, 7, 5, 4, 3))
_WEIGHT_MASKS: dict[int, int] = {}
for _r, _row in enumerate(_CELL_WEIGHT):
    for _c, _w in enumerate(_row):
        _WEIGHT_MASKS[_w] = _WEIGHT_MASKS.get(_w, 0) | (1 << (_H1 * _c + _r))
_WEIGHTS = tuple(_WEIGHT_MASKS.items())


def _position_value(me: int, other: int) -> int:
    """Sum of the cell weights of ``me``'s stones minus ``other``'s (|value| < 150 < a win's)."""
    return sum(w * (bin(me & m).count("1") - bin(other & m).count("1")) for w, m in _WEIGHTS)


def _connected4(b: int) -> bool:
    """Four in a row in bitboard ``b`` (vertical, horizontal, both diagonals)."""
    for shift in (1, _H1, _H1 - 1, _H1 + 1):
        m = b & (b >> shift)
        if m & (m >> (2 * shift)):
            return True
    return False


class Board:
    """A position: ``me`` (stones of the player to move), ``mask`` (all stones), ``moves`` played."""

    __slots__ = ("me", "mask", "moves")

    def __init__(self, me: int = 0, mask: int = 0, moves: int = 0) -> None:
        self.me, self.mask, self.moves = me, mask, moves

    def copy(self) -> Board:
        return Board(self.me, self.mask, self.moves)

    def can_play(self, col: int) -> bool:
        return not self.mask & _TOP[col]

    def legal(self) -> list[int]:
        return [c for c in range(COLS) if not self.mask & _TOP[c]]

    def is_winning(self, col: int) -> bool:
        """Would playing ``col`` connect four for the player to move?"""
        new = self.me | ((self.mask + _BOTTOM[col]) & self._column(col))
        return _connected4(new)

    @staticmethod
    def _column(col: int) -> int:
        return ((1 << ROWS) - 1) << (_H1 * col)

    def play(self, col: int) -> None:
        """Drop a stone of the player to move in ``col``; the other player is then to move."""
        self.me ^= self.mask
        self.mask |= self.mask + _BOTTOM[col]
        self.moves += 1

    def last_mover_won(self) -> bool:
        return _connected4(self.me ^ self.mask)

    def full(self) -> bool:
        return self.moves >= ROWS * COLS

    def grid(self) -> np.ndarray:
        """(ROWS, COLS) int8 from the bottom row: 1 = the player to move, -1 = the other, 0 empty."""
        out = np.zeros((ROWS, COLS), dtype=np.int8)
        other = self.me ^ self.mask
        for c in range(COLS):
            for r in range(ROWS):
                bit = 1 << (_H1 * c + r)
                out[r, c] = 1 if self.me & bit else -1 if other & bit else 0
        return out

    @classmethod
    def from_grid(cls, grid: np.ndarray) -> Board:
        """A board from (ROWS, COLS) with 1 = the player to move, -1 = the other (bottom row first)."""
        me = mask = 0
        for c in range(COLS):
            for r in range(ROWS):
                if grid[r, c]:
                    bit = 1 << (_H1 * c + r)
                    mask |= bit
                    if grid[r, c] > 0:
                        me |= bit
        return cls(me, mask, int(np.count_nonzero(grid)))


def negamax(board: Board, depth: int, alpha: int = -_WIN - 1, beta: int = _WIN + 1) -> int:
    """Value of ``board`` for the player to move, searching ``depth`` plies with alpha-beta:
    +(_WIN - moves) for a forced win found within the horizon (sooner is better), the negation for
    a loss, 0 for a draw, and at an unresolved leaf the cell-weight balance (``_CELL_WEIGHT``)."""
    if board.full():
        return 0
    for c in range(COLS):
        if board.can_play(c) and board.is_winning(c):
            return _WIN - board.moves - 1
    if depth <= 1:
        return _position_value(board.me, board.me ^ board.mask)
    best = -_WIN - 1
    for c in _ORDER:
        if not board.can_play(c):
            continue
        child = board.copy()
        child.play(c)
        v = -negamax(child, depth - 1, -beta, -alpha)
        if v > best:
            best = v
        if v > alpha:
            alpha = v
        if alpha >= beta:
            break
    return best


def move_values(board: Board, depth: int) -> dict[int, int]:
    """Exact ``depth``-ply negamax value of each legal move (depth >= 1: 1 sees immediate wins)."""
    out = {}
    for c in board.legal():
        if board.is_winning(c):
            out[c] = _WIN - board.moves - 1
            continue
        child = board.copy()
        child.play(c)
        out[c] = -negamax(child, depth - 1) if depth > 1 else -_position_value(child.me, child.me ^ child.mask)
    return out


def _best(board: Board, depth: int, rng: np.random.Generator) -> int:
    vals = move_values(board, depth)
    top = max(vals.values())
    best = [c for c, v in vals.items() if v == top]
    return int(best[rng.integers(len(best))])


def opponent_move(board: Board, depth: int, rng: np.random.Generator, deviate: float = 0.2) -> int:
    """ESPER's stochastic opponent with a depth-limited search: the best move (random among ties);
    if that is the rightmost column, a uniformly random other legal column with prob. ``deviate``."""
    col = _best(board, depth, rng)
    if col == COLS - 1 and rng.uniform() < deviate:
        others = [c for c in board.legal() if c != col]
        if others:
            col = int(others[rng.integers(len(others))])
    return col


def expert_move(board: Board, depth: int, rng: np.random.Generator, eps: float = 0.01) -> int:
    """The epsilon-greedy searching policy of the data: a uniformly random legal column with prob.
    ``eps``, else the ``depth``-ply best move (random among ties)."""
    if rng.uniform() < eps:
        legal = board.legal()
        return int(legal[rng.integers(len(legal))])
    return _best(board, depth, rng)


def specialised_move(board: Board, agent_moves: int, rng: np.random.Generator) -> int:
    """ESPER's exploiting policy: the rightmost column for its first 5 moves (while legal), then a
    uniformly random legal column, or the rightmost (if legal) with probability 0.1."""
    legal = board.legal()
    right = COLS - 1
    if right in legal and (agent_moves < 5 or rng.uniform() < 0.1):
        return right
    return int(legal[rng.integers(len(legal))])


class Connect4Env:
    """The agent (first player) against ``opponent_move``; gymnasium's ``reset``/``step`` API.

    ``step(action)`` takes a column index or a (7,) score vector (the legal column with the highest
    score is played); an illegal column index is an error.
    """

    def __init__(self, opponent_depth: int = 2, deviate: float = 0.2) -> None:
        check_int("opponent_depth", opponent_depth, low=1)
        check_real("deviate", deviate, low=0.0, high=1.0)
        self.opponent_depth, self.deviate = opponent_depth, deviate
        self.rng = np.random.default_rng()
        self.board = Board()

    def observation(self) -> np.ndarray:
        g = self.board.grid()  # the agent is to move whenever an observation is made
        return np.concatenate([(g == 1).ravel(), (g == -1).ravel()]).astype(np.float32)

    def reset(self, seed: int | None = None) -> tuple[np.ndarray, dict]:
        if seed is not None:
            self.rng = np.random.default_rng(seed)
        self.board = Board()
        return self.observation(), {}

    def column(self, action) -> int:
        a = np.asarray(action, dtype=np.float64).reshape(-1)
        legal = self.board.legal()
        if a.size == 1:
            col = int(a[0])
            if col not in legal:
                raise ValueError(f"column {col} is not a legal move; legal: {legal}")
            return col
        return int(legal[int(np.argmax(a[legal]))])

    def step(self, action) -> tuple[np.ndarray, float, bool, bool, dict]:
        col = self.column(action)
        self.board.play(col)
        if self.board.last_mover_won():
            return self.observation(), 1.0, True, False, {"column": col}
        if self.board.full():
            return self.observation(), 0.0, True, False, {"column": col}
        reply = opponent_move(self.board, self.opponent_depth, self.rng, self.deviate)
        self.board.play(reply)
        if self.board.last_mover_won():
            return self.observation(), -1.0, True, False, {"column": col, "reply": reply}
        if self.board.full():
            return self.observation(), 0.0, True, False, {"column": col, "reply": reply}
        return self.observation(), 0.0, False, False, {"column": col, "reply": reply}

    def close(self) -> None:
        pass


def connect4_dataset(n_episodes: int, seed: int = 0, *, opponent_depth: int = 2, expert_depth: int = 4,
                     eps: float = 0.01) -> dict[str, np.ndarray]:
    """D4RL-layout episodes of the 50/50 mixture (even episodes: the specialised policy; odd: the
    epsilon-greedy searcher), each game against ``Connect4Env``; actions stored as 2 onehot - 1."""
    check_int("n_episodes", n_episodes, low=1)
    rng = np.random.default_rng(seed)
    env = Connect4Env(opponent_depth)
    obs, act, rew, term = [], [], [], []
    for i in range(n_episodes):
        o, _ = env.reset(seed=int(rng.integers(2**31)))
        done, k = False, 0
        while not done:
            col = specialised_move(env.board, k, rng) if i % 2 == 0 else expert_move(env.board, expert_depth, rng, eps)
            a = -np.ones(COLS, dtype=np.float32)
            a[col] = 1.0
            o2, r, done, _, _ = env.step(a)
            obs.append(o)
            act.append(a)
            rew.append(r)
            term.append(done)
            o, k = o2, k + 1
    return {"observations": np.asarray(obs, np.float32), "actions": np.asarray(act, np.float32),
            "rewards": np.asarray(rew, np.float32), "terminals": np.asarray(term, bool),
            "timeouts": np.zeros(len(rew), bool)}


def uci_positions(limit: int | None = None) -> tuple[list[Board], np.ndarray]:
    """The UCI Connect-4 8-ply positions (the core's ``connect4`` dataset, PMLB encoding: cells
    a1..g6 column by column from the bottom, 0 blank, 1 = o, 2 = x; target 0 draw, 1 loss, 2 win
    for x). Returns boards with x (the first player, to move after 8 plies) as the player to
    move, and the targets; ``limit`` keeps the first rows only. Used as an external check of the
    board logic (no position has a winner)."""
    import gzip

    from latent_ebm.core.data import get_file

    rows = []
    with gzip.open(get_file("connect4", "connect_4.tsv.gz"), "rt") as f:
        next(f)
        for i, line in enumerate(f):
            if limit is not None and i >= limit:
                break
            rows.append([int(v) for v in line.split()])
    arr = np.asarray(rows, dtype=np.int8)
    cells = arr[:, :42].reshape(-1, COLS, ROWS).transpose(0, 2, 1)  # (N, rows from the bottom, columns)
    grids = np.where(cells == 2, 1, np.where(cells == 1, -1, 0))
    return [Board.from_grid(g) for g in grids], arr[:, 42]
