//! # The sponsor index: one tenant's genealogy in depth-first order
//!
//! Members are numbered in enrollment order: member 0 is the root, every member's sponsor
//! enrolled before it, and a sponsor's recruits are ordered by enrollment. The index keeps the
//! genealogy in *preorder* — each member directly before its downline, recruits in enrollment
//! order — because there a downline is one contiguous stretch: its size, "is X in Y's
//! downline" and a page of it become arithmetic on positions instead of walks through the tree.
//! Enrollment (a new leaf, the newest recruit of its sponsor) must stay cheap, and the tree may
//! be a chain ten million deep: nothing here recurses, and only upline walks cost the depth.
//!
//! ## The sequence: an opening and a closing token per member
//!
//! The sequence holds two tokens per member, `n(` where its downline begins and `)n` where it
//! ends — the tree written as balanced parentheses:
//!
//! ```text
//! 0 ─┬─ 1 ── 3        0( 1( 3( )3 )1 2( )2 )0
//!    └─ 2
//! ```
//!
//! Enrolling a member L under S inserts the pair `L( )L` directly before `)S`: L's downline is
//! empty, and as S's newest recruit L comes after everything already in S's downline, yet
//! inside it. No token moves relative to any other, so nothing stored about existing members
//! changes meaning; the tokens after the insertion point merely shift by two.
//!
//! Why a closing token rather than, per member, `end` = "the first member after its downline":
//! that pointer is not stable. In `0 ── 1`, `end(1)` is "the end of the sequence"; enroll 2
//! under 0 and `end(1)` becomes 2. In general every member on the path of newest recruits below
//! S had `end = end(S)` and now has `end = L` — a path as long as the tree is deep, rewritten on
//! every enrollment. The closing token is the same end marker made stable: it is itself in the
//! sequence and moves with it.
//!
//! Positions follow by counting. Before `n(` stand the opening tokens of the `pos(n)` members
//! earlier in preorder, and the closing tokens of all of them except n's `depth(n)` ancestors,
//! whose downlines are still open. Writing `t(·)` for a token's place in the sequence:
//! - `t(n() = 2·pos(n) − depth(n)`, so `pos(n) = (t(n() + depth(n)) / 2`;
//! - the tokens strictly between `n(` and `)n` are two per member of n's downline, so the
//!   subtree of n (n included) has `(t()n) − t(n() − 1) / 2 + 1` members;
//! - x is in the downline of y exactly when `t(y() < t(x() < t()y)`.
//!
//! ## Blocks
//!
//! The sequence is cut into blocks of at most [`BLOCK_LEN`] tokens, each in its own vector under
//! a stable id. `block_order` lists the ids in sequence order and `block_rank` is its inverse;
//! per rank the index keeps how many tokens and how many members (opening tokens) the earlier
//! blocks hold. Each member knows the slot (block id, index in the block) of both its tokens,
//! so `t(·)` is one addition.
//!
//! Enrolling inserts two tokens into one block: the block's tail shifts and its slots are
//! rewritten (at most `BLOCK_LEN`), and the counts of the later blocks grow by one addition each
//! (a sequential sweep over a few thousand integers). A block with no room is first split in
//! half under a new id; bulk-built blocks are filled to 3/4, so that is rare.
//!
//! Walking a downline meets runs of closing tokens as long as the tree is deep (a chain's
//! sequence ends in ten million `)`). So each block also keeps, for every index, the next
//! opening token at or after it, rebuilt whenever the block changes (the block is rewritten
//! then anyway), and a stretch of blocks holding only closing tokens is crossed by binary search
//! over the members-before counts. Stepping from a member to the next one in preorder, or past a
//! whole downline from its `)m`, is therefore O(1), and O(log blocks) only where a run of more
//! than `BLOCK_LEN` closing tokens fills whole blocks.
//!
//! ## Costs (n members, B = `BLOCK_LEN`, K ≈ 2n / B blocks)
//!
//! | operation                                                      | cost                    |
//! |----------------------------------------------------------------|-------------------------|
//! | [`add`](SponsorIndex::add)                                     | O(B + K)                |
//! | `position`, `subtree_size`, `is_in_downline`, `sponsor`, `depth`, `recruit_count` | O(1) |
//! | [`node_at`](SponsorIndex::node_at)                             | O(log K + log B)        |
//! | [`upline`](SponsorIndex::upline)                               | O(levels)               |
//! | [`recruits`](SponsorIndex::recruits)                           | O(1) per recruit        |
//! | [`downline_page`](SponsorIndex::downline_page)                 | O(limit + log K), see above |
//! | [`subtree_sum`](SponsorIndex::subtree_sum)                     | O(subtree), in sequence |
//! | [`from_sponsors`](SponsorIndex::from_sponsors)                 | O(n), no traversal      |
//!
//! ## Bulk build
//!
//! [`SponsorIndex::from_sponsors`] never walks the tree. Small passes in id order compute each
//! member's subtree size (backward: each member adds its size to its sponsor's), depth
//! (forward: one more than its sponsor's) and preorder position (forward: a sponsor's
//! recruits, in id order, take consecutive stretches right after it). Then each token is
//! written straight to its place, `t(n() = 2·pos(n) − depth(n)` and `t()n) = t(n() +
//! 2·size(n) − 1`, and the sequence is cut into blocks filled to 3/4, so that enrollments
//! rarely split them. The random accesses of each pass do not depend on one another, so the
//! processor keeps many in flight — far faster on ten million members than a traversal, whose
//! every step waits for the last.

use std::iter;

/// A member of the network, numbered in enrollment order; the root is 0.
pub type Node = u32;

/// "No member": the sponsor of the root.
pub const NONE: Node = u32::MAX;

/// Tokens per block (two per member). Smaller blocks make an enrollment shift and re-slot fewer
/// tokens; larger ones mean fewer blocks whose counts it updates. 2048 balances the two on
/// networks of a few million members.
pub const BLOCK_LEN: usize = 2048;

/// A split leaves two halves that must take a pair of tokens: at least 4 tokens per block.
/// `next_opening` keeps indexes inside a block as `u16`: at most `u16::MAX` tokens per block.
const BLOCK_LEN_RANGE: std::ops::RangeInclusive<usize> = 4..=u16::MAX as usize;

/// A token is `node << 1 | is_closing` in 32 bits, so member ids stay below 2^31.
const MAX_MEMBERS: usize = 1 << 31;

/// One page of a downline: see [`SponsorIndex::downline_page`].
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct DownlinePage {
    /// Members in preorder, each with its level below the page's top member (1 = recruit).
    pub items: Vec<(Node, u32)>,
    /// Whether at least one further member follows the last item.
    pub more: bool,
}

/// The genealogy of one tenant, in preorder. See the module documentation.
///
/// Queries about a member panic when it is not in the network, like indexing a slice;
/// [`add`](Self::add) and [`downline_page`](Self::downline_page), which take ids from
/// requests, return errors instead.
#[derive(Debug, Clone)]
pub struct SponsorIndex {
    block_len: usize,
    /// The network itself, by member: sponsor (`NONE` for the root), depth (root 0), recruits.
    sponsor: Vec<Node>,
    depth: Vec<u32>,
    recruit_count: Vec<u32>,
    /// By token (`Token.0`): where it is. A member's two slots lie side by side in memory.
    slot: Vec<Slot>,
    /// By stable block id.
    blocks: Vec<Block>,
    /// Block ids in sequence order; `block_rank[id]` is the id's place in it.
    block_order: Vec<u32>,
    block_rank: Vec<u32>,
    /// By rank: tokens, and members (opening tokens), in all earlier blocks.
    tokens_before: Vec<u64>,
    members_before: Vec<u64>,
}

/// One entry of the sequence: the opening or the closing of a member's downline.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Token(u32);

impl Token {
    fn opening(node: Node) -> Token {
        Token(node << 1)
    }

    fn closing(node: Node) -> Token {
        Token(node << 1 | 1)
    }

    fn node(self) -> Node {
        self.0 >> 1
    }

    fn is_opening(self) -> bool {
        self.0 & 1 == 0
    }
}

/// Where a token sits: its block's stable id and its index inside the block.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Slot {
    block: u32,
    index: u32,
}

/// A stretch of the sequence.
#[derive(Debug, Clone)]
struct Block {
    tokens: Vec<Token>,
    /// `next_opening[i]`: the index of the first opening token at `i` or after it, or
    /// `tokens.len()` if there is none — so a walk skips a run of closing tokens in one step.
    next_opening: Vec<u16>,
}

impl Block {
    /// A block holding `tokens`, with room reserved for `block_len` so it never reallocates.
    fn new(tokens: &[Token], block_len: usize) -> Block {
        let mut block = Block {
            tokens: Vec::with_capacity(block_len),
            next_opening: Vec::with_capacity(block_len),
        };
        block.tokens.extend_from_slice(tokens);
        block.refresh_next_opening();
        block
    }

    fn refresh_next_opening(&mut self) {
        let len = self.tokens.len();
        self.next_opening.resize(len, 0);
        let mut next = len;
        for index in (0..len).rev() {
            if self.tokens[index].is_opening() {
                next = index;
            }
            self.next_opening[index] = next as u16;
        }
    }

    /// Inserts `node(` and `)node` at `index`. Of `next_opening`, the entries after the pair
    /// now point two further on, and the run of closing tokens just before it leads to `node(`.
    fn insert_pair(&mut self, index: usize, node: Node) {
        let next_after_pair = self
            .next_opening
            .get(index)
            .map_or(self.tokens.len(), |&next| usize::from(next))
            + 2;
        self.tokens
            .splice(index..index, [Token::opening(node), Token::closing(node)]);
        self.next_opening
            .splice(index..index, [index as u16, next_after_pair as u16]);
        for next in &mut self.next_opening[index + 2..] {
            *next += 2;
        }
        // `next_opening` never decreases, so the run ends at the first entry before `index`.
        for next in self.next_opening[..index].iter_mut().rev() {
            if usize::from(*next) < index {
                break;
            }
            *next = index as u16;
        }
    }

    fn openings(&self) -> u64 {
        self.tokens
            .iter()
            .filter(|token| token.is_opening())
            .count() as u64
    }
}

impl Default for SponsorIndex {
    fn default() -> Self {
        Self::new()
    }
}

impl SponsorIndex {
    /// An empty network; enroll its root with [`add_root`](Self::add_root).
    pub fn new() -> Self {
        Self::with_block_len(BLOCK_LEN)
    }

    /// An empty network cut into blocks of `block_len` tokens (tests use tiny blocks, so that
    /// blocks split all the time).
    fn with_block_len(block_len: usize) -> Self {
        assert!(
            BLOCK_LEN_RANGE.contains(&block_len),
            "a block holds 4 to 65535 tokens, not {block_len}"
        );
        SponsorIndex {
            block_len,
            sponsor: Vec::new(),
            depth: Vec::new(),
            recruit_count: Vec::new(),
            slot: Vec::new(),
            blocks: Vec::new(),
            block_order: Vec::new(),
            block_rank: Vec::new(),
            tokens_before: Vec::new(),
            members_before: Vec::new(),
        }
    }

    /// Builds the index of a whole network in O(n) from each member's sponsor:
    /// `sponsors[0] == NONE` (the root) and `sponsors[n] < n` for every other member. An empty
    /// array gives the empty network.
    pub fn from_sponsors(sponsors: &[Node]) -> Result<Self, String> {
        Self::from_sponsors_with_block_len(sponsors, BLOCK_LEN)
    }

    fn from_sponsors_with_block_len(sponsors: &[Node], block_len: usize) -> Result<Self, String> {
        check_sponsors(sponsors)?;
        let mut index = Self::with_block_len(block_len);
        if sponsors.is_empty() {
            return Ok(index);
        }
        let size = subtree_sizes(sponsors);
        let depth = depths(sponsors);
        let position = preorder_positions(sponsors, &size);
        let places = TokenPlaces {
            depth: &depth,
            size: &size,
            position: &position,
        };
        index.lay_out_blocks(&places);
        index.recruit_count = recruit_counts(sponsors);
        index.sponsor = sponsors.to_vec();
        index.depth = depth;
        Ok(index)
    }

    /// Writes the whole sequence, then cuts it into blocks filled to 3/4, so that enrollments
    /// rarely split them.
    fn lay_out_blocks(&mut self, places: &TokenPlaces) {
        let fill = self.block_len * 3 / 4;
        let sequence = places.sequence();
        self.blocks = sequence
            .chunks(fill)
            .map(|tokens| Block::new(tokens, self.block_len))
            .collect();
        let slot_at = |token_position: u64| Slot {
            block: (token_position / fill as u64) as u32,
            index: (token_position % fill as u64) as u32,
        };
        self.slot = (0..places.members())
            .flat_map(|node| {
                let (opening_at, closing_at) = places.of(node);
                [slot_at(opening_at), slot_at(closing_at)]
            })
            .collect();
        let block_count = self.blocks.len();
        self.block_order = (0..block_count as u32).collect();
        self.block_rank = self.block_order.clone();
        self.tokens_before = (0..block_count).map(|rank| (rank * fill) as u64).collect();
        self.members_before = Vec::with_capacity(block_count);
        let mut members_so_far = 0;
        for block in &self.blocks {
            self.members_before.push(members_so_far);
            members_so_far += block.openings();
        }
    }

    /// The number of members.
    pub fn len(&self) -> usize {
        self.sponsor.len()
    }

    pub fn is_empty(&self) -> bool {
        self.sponsor.is_empty()
    }

    /// Enrolls the root, member 0, into an empty network.
    pub fn add_root(&mut self) -> Result<Node, String> {
        if !self.is_empty() {
            return Err("the network already has its root, member 0".to_string());
        }
        self.push_member(NONE, 0);
        self.blocks.push(Block::new(&[], self.block_len));
        self.block_order.push(0);
        self.block_rank.push(0);
        self.tokens_before.push(0);
        self.members_before.push(0);
        self.insert_pair(Slot { block: 0, index: 0 }, 0);
        Ok(0)
    }

    /// Enrolls a new member as the newest recruit of `sponsor`, and returns its id (the next one).
    pub fn add(&mut self, sponsor: Node) -> Result<Node, String> {
        if sponsor == NONE {
            return Err("only the root has no sponsor: enroll it with add_root".to_string());
        }
        if sponsor as usize >= self.len() {
            return Err(format!(
                "unknown sponsor {sponsor}: the network has {} members",
                self.len()
            ));
        }
        if self.len() >= MAX_MEMBERS {
            return Err(format!("the network is full: {MAX_MEMBERS} members"));
        }
        let node = self.len() as Node;
        self.push_member(sponsor, self.depth[sponsor as usize] + 1);
        self.recruit_count[sponsor as usize] += 1;
        // The new pair goes right before the sponsor's closing token (see the module doc).
        self.make_room_for_pair(self.closing(sponsor).block);
        self.insert_pair(self.closing(sponsor), node);
        Ok(node)
    }

    /// The member's sponsor; `None` for the root.
    pub fn sponsor(&self, node: Node) -> Option<Node> {
        let sponsor = self.sponsor[self.member(node)];
        (sponsor != NONE).then_some(sponsor)
    }

    /// Levels below the root: 0 for the root, 1 for its recruits.
    pub fn depth(&self, node: Node) -> u32 {
        self.depth[self.member(node)]
    }

    /// The member's sponsor, the sponsor's sponsor, and so on up to the root, or only the
    /// first `levels` of them.
    pub fn upline(&self, node: Node, levels: Option<u32>) -> impl Iterator<Item = Node> + '_ {
        let levels = levels.map_or(usize::MAX, |levels| levels as usize);
        iter::successors(self.sponsor(node), move |&up| self.sponsor(up)).take(levels)
    }

    /// The member's place in preorder, 0 for the root.
    pub fn position(&self, node: Node) -> u64 {
        let member = self.member(node);
        (self.token_position(self.opening(node)) + u64::from(self.depth[member])) / 2
    }

    /// The member at a place in preorder; panics if `position >= len()`.
    pub fn node_at(&self, position: u64) -> Node {
        assert!(
            position < self.len() as u64,
            "position {position} is past the network's {} members",
            self.len()
        );
        let rank = self.rank_holding_member(position);
        let tokens = &self.blocks[self.block_order[rank] as usize].tokens;
        // Inside the block, the number of members before each token only grows; the member is
        // the last token with `position` members before it (the one after it has one more).
        let first_token = self.tokens_before[rank];
        let after = partition_point(tokens.len(), |index| {
            self.members_before_token(tokens[index], first_token + index as u64) <= position
        });
        tokens[after - 1].node()
    }

    /// The number of members in the member's subtree, the member included.
    pub fn subtree_size(&self, node: Node) -> u64 {
        self.assert_member(node);
        let opening = self.token_position(self.opening(node));
        let closing = self.token_position(self.closing(node));
        // Two tokens per downline member strictly between, and the member itself.
        (closing - opening - 1) / 2 + 1
    }

    /// Whether `node` is in the downline of `of` — strictly below it, so never `of` itself.
    pub fn is_in_downline(&self, node: Node, of: Node) -> bool {
        self.assert_member(node);
        self.assert_member(of);
        let at = self.token_position(self.opening(node));
        self.token_position(self.opening(of)) < at && at < self.token_position(self.closing(of))
    }

    /// The member's recruits, in enrollment order.
    pub fn recruits(&self, node: Node) -> impl Iterator<Item = Node> + '_ {
        let member = self.member(node);
        let mut remaining = self.recruit_count[member];
        // The first recruit opens right after its sponsor; each next one right after the
        // previous recruit's downline closes.
        let mut next = self.slot_after(self.opening(node));
        iter::from_fn(move || {
            if remaining == 0 {
                return None;
            }
            remaining -= 1;
            let slot = next.expect("a recruit's tokens lie inside its sponsor's");
            let recruit = self.token(slot).node();
            next = self.slot_after(self.closing(recruit));
            Some(recruit)
        })
    }

    /// The number of the member's recruits.
    pub fn recruit_count(&self, node: Node) -> u32 {
        self.recruit_count[self.member(node)]
    }

    /// A page of the downline of `of` (`of` excluded), in preorder, each member with its level
    /// below `of` (1 = a recruit of `of`):
    /// - only levels up to `max_depth` (every level if `None`);
    /// - starting after the member `after`, which must be in the page's downline (in that of
    ///   `of`, at most `max_depth` deep) — the last item of the previous page;
    /// - at most `limit` items, and `more` tells whether another one follows.
    ///
    /// Costs O(limit + log blocks): a member at level `max_depth` is passed over with its whole
    /// downline in one step, from its opening token to its closing one.
    pub fn downline_page(
        &self,
        of: Node,
        max_depth: Option<u32>,
        after: Option<Node>,
        limit: usize,
    ) -> Result<DownlinePage, String> {
        self.check_member(of)?;
        let max_level = max_depth.unwrap_or(u32::MAX);
        let level_of = |node: Node| self.depth[node as usize] - self.depth[of as usize];
        // The token after the member `last` of a page: the next one, or past its downline when
        // that is deeper than the page goes.
        let continue_after = |last: Node| {
            let slot = if level_of(last) >= max_level {
                self.closing(last)
            } else {
                self.opening(last)
            };
            self.slot_after(slot)
        };
        let mut cursor = match after {
            None => continue_after(of),
            Some(after) => {
                self.check_member(after)?;
                if !self.is_in_downline(after, of) {
                    return Err(format!("member {after} is not in the downline of {of}"));
                }
                if level_of(after) > max_level {
                    return Err(format!(
                        "member {after} is {} levels below {of}, deeper than the page's {max_level}",
                        level_of(after)
                    ));
                }
                continue_after(after)
            }
        };
        let end = self.token_position(self.closing(of));
        let mut page = DownlinePage::default();
        while let Some(slot) = cursor.and_then(|from| self.opening_from(from)) {
            if self.token_position(slot) > end {
                break;
            }
            if page.items.len() == limit {
                page.more = true;
                break;
            }
            let member = self.token(slot).node();
            page.items.push((member, level_of(member)));
            cursor = continue_after(member);
        }
        Ok(page)
    }

    /// The sum of `values[m]` over the subtree of `of`, `of` included; `values` is indexed by
    /// member. Reads the subtree's stretch of the sequence block after block.
    pub fn subtree_sum(&self, of: Node, values: &[i64]) -> i64 {
        self.assert_member(of);
        assert!(
            values.len() >= self.len(),
            "{} values for {} members",
            values.len(),
            self.len()
        );
        self.tokens_between(self.opening(of), self.closing(of))
            .filter(|token| token.is_opening())
            .map(|token| values[token.node() as usize])
            .sum()
    }

    /// Every member, in preorder.
    pub fn preorder(&self) -> impl Iterator<Item = Node> + '_ {
        self.block_order
            .iter()
            .flat_map(move |&block| self.blocks[block as usize].tokens.iter())
            .filter(|token| token.is_opening())
            .map(|token| token.node())
    }

    // ----- Members -----

    /// The member's index into the per-member arrays; panics for a member not in the network.
    fn member(&self, node: Node) -> usize {
        self.assert_member(node);
        node as usize
    }

    fn assert_member(&self, node: Node) {
        assert!(
            (node as usize) < self.len(),
            "member {node} is not in the network of {} members",
            self.len()
        );
    }

    fn check_member(&self, node: Node) -> Result<(), String> {
        if (node as usize) < self.len() {
            Ok(())
        } else {
            Err(format!(
                "unknown member {node}: the network has {} members",
                self.len()
            ))
        }
    }

    /// Appends a member to the per-member arrays; its tokens are placed by the caller.
    fn push_member(&mut self, sponsor: Node, depth: u32) {
        let unplaced = Slot {
            block: u32::MAX,
            index: u32::MAX,
        };
        self.sponsor.push(sponsor);
        self.depth.push(depth);
        self.recruit_count.push(0);
        self.slot.extend([unplaced, unplaced]);
    }

    // ----- The sequence -----

    fn opening(&self, node: Node) -> Slot {
        self.slot[Token::opening(node).0 as usize]
    }

    fn closing(&self, node: Node) -> Slot {
        self.slot[Token::closing(node).0 as usize]
    }

    fn token(&self, slot: Slot) -> Token {
        self.blocks[slot.block as usize].tokens[slot.index as usize]
    }

    /// The token's place in the whole sequence.
    fn token_position(&self, slot: Slot) -> u64 {
        self.tokens_before[self.block_rank[slot.block as usize] as usize] + u64::from(slot.index)
    }

    /// Members before a token at `token_position`: of the tokens before it, the openings
    /// outnumber the closings by the members still open around it — its member's ancestors,
    /// and for a closing token the member too.
    fn members_before_token(&self, token: Token, token_position: u64) -> u64 {
        let open_around =
            u64::from(self.depth[token.node() as usize]) + u64::from(!token.is_opening());
        (token_position + open_around) / 2
    }

    /// The slot of the token following `slot`, if any (blocks are never empty).
    fn slot_after(&self, slot: Slot) -> Option<Slot> {
        let index = slot.index + 1;
        if (index as usize) < self.blocks[slot.block as usize].tokens.len() {
            return Some(Slot { index, ..slot });
        }
        let next_rank = self.block_rank[slot.block as usize] as usize + 1;
        let block = *self.block_order.get(next_rank)?;
        Some(Slot { block, index: 0 })
    }

    /// The first opening token at `slot` or after it.
    fn opening_from(&self, slot: Slot) -> Option<Slot> {
        let block = &self.blocks[slot.block as usize];
        let index = u32::from(block.next_opening[slot.index as usize]);
        if (index as usize) < block.tokens.len() {
            return Some(Slot { index, ..slot });
        }
        // None in this block: the next one is member number `members_before[rank + 1]`, in
        // whichever block holds it — found by binary search, however many blocks of closing
        // tokens lie between.
        let next_rank = self.block_rank[slot.block as usize] as usize + 1;
        let next_member = *self.members_before.get(next_rank)?;
        if next_member >= self.len() as u64 {
            return None;
        }
        let block = self.block_order[self.rank_holding_member(next_member)];
        let index = u32::from(self.blocks[block as usize].next_opening[0]);
        Some(Slot { block, index })
    }

    /// The rank of the block holding the opening token of the member at `position` in preorder:
    /// the last block with at most `position` members before it (blocks without openings share
    /// their count with the next block, so the last one is never such a block).
    fn rank_holding_member(&self, position: u64) -> usize {
        self.members_before
            .partition_point(|&before| before <= position)
            - 1
    }

    /// The tokens from `first` to `last`, both included, block after block.
    fn tokens_between(&self, first: Slot, last: Slot) -> impl Iterator<Item = Token> + '_ {
        let first_rank = self.block_rank[first.block as usize] as usize;
        let last_rank = self.block_rank[last.block as usize] as usize;
        (first_rank..=last_rank).flat_map(move |rank| {
            let tokens = &self.blocks[self.block_order[rank] as usize].tokens;
            let from = if rank == first_rank {
                first.index as usize
            } else {
                0
            };
            let to = if rank == last_rank {
                last.index as usize + 1
            } else {
                tokens.len()
            };
            tokens[from..to].iter().copied()
        })
    }

    // ----- Enrollment -----

    /// Splits the block in half if it cannot take two more tokens.
    fn make_room_for_pair(&mut self, block: u32) {
        if self.blocks[block as usize].tokens.len() + 2 > self.block_len {
            self.split_block(block);
        }
    }

    /// Moves the second half of a block to a new block right after it in the sequence.
    fn split_block(&mut self, block: u32) {
        let rank = self.block_rank[block as usize] as usize;
        let new_block = self.blocks.len() as u32;
        let old = &mut self.blocks[block as usize];
        let kept = old.tokens.len() / 2;
        let moved = Block::new(&old.tokens[kept..], self.block_len);
        old.tokens.truncate(kept);
        old.refresh_next_opening();
        let kept_members = old.openings();
        self.blocks.push(moved);
        self.reslot_from(new_block, 0);

        self.block_order.insert(rank + 1, new_block);
        self.block_rank.push(0);
        for (later_rank, &later) in self.block_order.iter().enumerate().skip(rank + 1) {
            self.block_rank[later as usize] = later_rank as u32;
        }
        let tokens_before = self.tokens_before[rank] + kept as u64;
        let members_before = self.members_before[rank] + kept_members;
        self.tokens_before.insert(rank + 1, tokens_before);
        self.members_before.insert(rank + 1, members_before);
    }

    /// Inserts `node(` and `)node` at `at` (before the token there), in a block with room.
    fn insert_pair(&mut self, at: Slot, node: Node) {
        let index = at.index as usize;
        self.blocks[at.block as usize].insert_pair(index, node);
        self.reslot_from(at.block, index);
        let rank = self.block_rank[at.block as usize] as usize;
        for tokens_before in &mut self.tokens_before[rank + 1..] {
            *tokens_before += 2;
        }
        for members_before in &mut self.members_before[rank + 1..] {
            *members_before += 1;
        }
    }

    /// Records the slots of a block's tokens from `from` on, after they moved.
    fn reslot_from(&mut self, block: u32, from: usize) {
        let tokens = &self.blocks[block as usize].tokens;
        for (index, &token) in tokens.iter().enumerate().skip(from) {
            let slot = Slot {
                block,
                index: index as u32,
            };
            self.slot[token.0 as usize] = slot;
        }
    }
}

// ----- Bulk build -----

fn check_sponsors(sponsors: &[Node]) -> Result<(), String> {
    if sponsors.len() > MAX_MEMBERS {
        return Err(format!(
            "{} members: a network holds at most {MAX_MEMBERS}",
            sponsors.len()
        ));
    }
    if let Some(&sponsor) = sponsors.first() {
        if sponsor != NONE {
            return Err(format!(
                "member 0 must be the root (sponsor NONE), but its sponsor is {sponsor}"
            ));
        }
    }
    for (node, &sponsor) in sponsors.iter().enumerate().skip(1) {
        if sponsor == NONE {
            return Err(format!(
                "member {node} has no sponsor, but only member 0 is the root"
            ));
        }
        if sponsor as usize >= node {
            return Err(format!(
                "member {node} has sponsor {sponsor}: a sponsor enrolls before its recruits"
            ));
        }
    }
    Ok(())
}

// Each pass is kept a small loop on its own: the smaller the loop, the more of its independent
// random accesses the processor keeps in flight (one fused loop measured twice as slow).

/// Backward: a member's subtree is complete once every later member has added its own.
fn subtree_sizes(sponsors: &[Node]) -> Vec<u32> {
    let mut size = vec![1u32; sponsors.len()];
    for node in (1..sponsors.len()).rev() {
        size[sponsors[node] as usize] += size[node];
    }
    size
}

/// Forward: a sponsor comes before its recruits, so its depth is known first.
fn depths(sponsors: &[Node]) -> Vec<u32> {
    let mut depth = vec![0u32; sponsors.len()];
    for node in 1..sponsors.len() {
        depth[node] = depth[sponsors[node] as usize] + 1;
    }
    depth
}

/// Forward: the root is first; a sponsor's recruits, in id order, follow it in consecutive
/// stretches as long as their subtrees.
fn preorder_positions(sponsors: &[Node], size: &[u32]) -> Vec<u32> {
    let mut position = vec![0u32; sponsors.len()];
    // Where each member's next recruit goes.
    let mut next_recruit_at = vec![0u32; sponsors.len()];
    next_recruit_at[0] = 1;
    for node in 1..sponsors.len() {
        let sponsor = sponsors[node] as usize;
        position[node] = next_recruit_at[sponsor];
        next_recruit_at[sponsor] += size[node];
        next_recruit_at[node] = position[node] + 1;
    }
    position
}

fn recruit_counts(sponsors: &[Node]) -> Vec<u32> {
    let mut count = vec![0u32; sponsors.len()];
    for &sponsor in &sponsors[1..] {
        count[sponsor as usize] += 1;
    }
    count
}

/// Where each member's two tokens go, from its depth, subtree size and preorder position.
struct TokenPlaces<'a> {
    depth: &'a [u32],
    size: &'a [u32],
    position: &'a [u32],
}

impl TokenPlaces<'_> {
    fn members(&self) -> usize {
        self.position.len()
    }

    /// `t(n() = 2·pos(n) − depth(n)` and `t()n) = t(n() + 2·size(n) − 1`.
    fn of(&self, node: usize) -> (u64, u64) {
        let opening_at = 2 * u64::from(self.position[node]) - u64::from(self.depth[node]);
        (opening_at, opening_at + 2 * u64::from(self.size[node]) - 1)
    }

    /// The whole sequence, each token written straight to its place.
    fn sequence(&self) -> Vec<Token> {
        let mut sequence = vec![Token(0); 2 * self.members()];
        for node in 0..self.members() {
            let (opening_at, closing_at) = self.of(node);
            sequence[opening_at as usize] = Token::opening(node as Node);
            sequence[closing_at as usize] = Token::closing(node as Node);
        }
        sequence
    }
}

/// The first index in `0..len` where `is_before` turns false (it is true, then false).
fn partition_point(len: usize, is_before: impl Fn(usize) -> bool) -> usize {
    let (mut low, mut high) = (0, len);
    while low < high {
        let middle = low + (high - low) / 2;
        if is_before(middle) {
            low = middle + 1;
        } else {
            high = middle;
        }
    }
    low
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// A small deterministic generator (SplitMix64), so a failing case replays from its seed.
    struct Random(crate::splitmix::SplitMix64);

    impl Random {
        fn new(seed: u64) -> Random {
            Random(crate::splitmix::SplitMix64(seed))
        }

        fn below(&mut self, bound: usize) -> usize {
            self.0.below(bound as u64) as usize
        }

        /// A sponsor for the next member: often the newest member (deep chains), often the
        /// root or an early member (wide levels), otherwise anyone.
        fn sponsor(&mut self, members: usize) -> Node {
            match self.below(4) {
                0 => members as Node - 1,
                1 => self.below(members.min(3)) as Node,
                _ => self.below(members) as Node,
            }
        }
    }

    /// The naive model: recruit lists, and walks with an explicit stack.
    struct Model {
        sponsor: Vec<Node>,
        depth: Vec<u32>,
        recruits: Vec<Vec<Node>>,
    }

    impl Model {
        fn with_root() -> Model {
            Model {
                sponsor: vec![NONE],
                depth: vec![0],
                recruits: vec![Vec::new()],
            }
        }

        fn add(&mut self, sponsor: Node) -> Node {
            let node = self.sponsor.len() as Node;
            self.sponsor.push(sponsor);
            self.depth.push(self.depth[sponsor as usize] + 1);
            self.recruits.push(Vec::new());
            self.recruits[sponsor as usize].push(node);
            node
        }

        /// The downline of `of` in preorder with levels, down to `max_depth` levels.
        fn downline(&self, of: Node, max_depth: Option<u32>) -> Vec<(Node, u32)> {
            let max_level = max_depth.unwrap_or(u32::MAX);
            let mut found = Vec::new();
            let mut stack: Vec<(Node, u32)> = vec![(of, 0)];
            while let Some((node, level)) = stack.pop() {
                if level > 0 {
                    found.push((node, level));
                }
                if level < max_level {
                    for &recruit in self.recruits[node as usize].iter().rev() {
                        stack.push((recruit, level + 1));
                    }
                }
            }
            found
        }

        fn subtree(&self, of: Node) -> Vec<Node> {
            let mut members = vec![of];
            members.extend(self.downline(of, None).into_iter().map(|(node, _)| node));
            members
        }

        fn upline(&self, node: Node) -> Vec<Node> {
            let mut upline = Vec::new();
            let mut up = self.sponsor[node as usize];
            while up != NONE {
                upline.push(up);
                up = self.sponsor[up as usize];
            }
            upline
        }
    }

    /// Every stored fact agrees with every other one.
    fn check_invariants(index: &SponsorIndex) {
        let block_count = index.blocks.len();
        assert_eq!(index.block_order.len(), block_count);
        assert_eq!(index.block_rank.len(), block_count);
        for (rank, &block) in index.block_order.iter().enumerate() {
            assert_eq!(index.block_rank[block as usize] as usize, rank);
        }
        let (mut tokens_so_far, mut members_so_far) = (0u64, 0u64);
        let mut seen = vec![0u8; index.len()];
        for (rank, &block) in index.block_order.iter().enumerate() {
            assert_eq!(index.tokens_before[rank], tokens_so_far);
            assert_eq!(index.members_before[rank], members_so_far);
            let block_data = &index.blocks[block as usize];
            assert!(!block_data.tokens.is_empty() && block_data.tokens.len() <= index.block_len);
            let mut expected = Block::new(&block_data.tokens, index.block_len);
            expected.refresh_next_opening();
            assert_eq!(block_data.next_opening, expected.next_opening);
            for (at, &token) in block_data.tokens.iter().enumerate() {
                let slot = Slot {
                    block,
                    index: at as u32,
                };
                let node = token.node() as usize;
                if token.is_opening() {
                    assert_eq!(index.opening(node as Node), slot);
                    seen[node] += 1;
                } else {
                    assert_eq!(index.closing(node as Node), slot);
                    seen[node] += 2;
                }
            }
            tokens_so_far += block_data.tokens.len() as u64;
            members_so_far += block_data.openings();
        }
        assert_eq!(tokens_so_far, 2 * index.len() as u64);
        assert!(seen.iter().all(|&tokens| tokens == 3));
    }

    /// Pages through the downline of `of` with cursors; each page checked on its own.
    fn page_through(
        index: &SponsorIndex,
        of: Node,
        max_depth: Option<u32>,
        limit: usize,
    ) -> Vec<(Node, u32)> {
        let mut all = Vec::new();
        let mut after = None;
        loop {
            let page = index.downline_page(of, max_depth, after, limit).unwrap();
            assert!(page.items.len() <= limit);
            all.extend_from_slice(&page.items);
            if !page.more {
                break;
            }
            assert!(
                limit > 0 && page.items.len() == limit,
                "more without a full page"
            );
            after = page.items.last().map(|&(node, _)| node);
        }
        all
    }

    /// Compares every query of the index with the model; `random` picks the samples.
    fn compare(index: &SponsorIndex, model: &Model, random: &mut Random) {
        check_invariants(index);
        let members = model.sponsor.len();
        assert_eq!(index.len(), members);
        let preorder = model.subtree(0);
        assert_eq!(index.preorder().collect::<Vec<_>>(), preorder);
        let mut position = vec![0u64; members];
        for (at, &node) in preorder.iter().enumerate() {
            position[node as usize] = at as u64;
        }
        for node in 0..members as Node {
            let n = node as usize;
            assert_eq!(index.position(node), position[n]);
            assert_eq!(index.node_at(position[n]), node);
            assert_eq!(index.depth(node), model.depth[n]);
            assert_eq!(
                index.sponsor(node),
                Some(model.sponsor[n]).filter(|&s| s != NONE)
            );
            assert_eq!(index.subtree_size(node), model.subtree(node).len() as u64);
            assert_eq!(index.recruits(node).collect::<Vec<_>>(), model.recruits[n]);
            assert_eq!(index.recruit_count(node) as usize, model.recruits[n].len());
            let upline = model.upline(node);
            assert_eq!(index.upline(node, None).collect::<Vec<_>>(), upline);
            let levels = random.below(upline.len() + 2);
            let expected: Vec<Node> = upline.iter().copied().take(levels).collect();
            let got: Vec<Node> = index.upline(node, Some(levels as u32)).collect();
            assert_eq!(got, expected);
            // Against an ancestor, itself and a random member.
            let other = random.below(members) as Node;
            for of in [
                other,
                node,
                upline
                    .get(random.below(upline.len() + 1))
                    .copied()
                    .unwrap_or(0),
            ] {
                let expected = model.upline(node).contains(&of);
                assert_eq!(
                    index.is_in_downline(node, of),
                    expected,
                    "{node} below {of}"
                );
            }
        }
        let values: Vec<i64> = (0..members)
            .map(|_| random.below(2001) as i64 - 1000)
            .collect();
        for _ in 0..8 {
            let of = random.below(members) as Node;
            let expected: i64 = model.subtree(of).iter().map(|&m| values[m as usize]).sum();
            assert_eq!(index.subtree_sum(of, &values), expected);
        }
        for _ in 0..8 {
            compare_pages(index, model, random);
        }
    }

    fn compare_pages(index: &SponsorIndex, model: &Model, random: &mut Random) {
        let members = model.sponsor.len();
        let of = if random.below(3) == 0 {
            0
        } else {
            random.below(members) as Node
        };
        let max_depth = match random.below(4) {
            0 => None,
            _ => Some(random.below(5) as u32),
        };
        let limit = random.below(6);
        let expected = model.downline(of, max_depth);
        if limit > 0 {
            assert_eq!(page_through(index, of, max_depth, limit), expected);
        }
        // A page from a random cursor is the model's list after it.
        let cut = random.below(expected.len() + 1);
        let after = cut.checked_sub(1).map(|at| expected[at].0);
        let page = index.downline_page(of, max_depth, after, limit).unwrap();
        let rest = &expected[cut..];
        assert_eq!(page.items, rest[..limit.min(rest.len())]);
        assert_eq!(page.more, rest.len() > limit);
        // Cursors outside the page's downline are refused.
        let stranger = random.below(members) as Node;
        let level = model.depth[stranger as usize].wrapping_sub(model.depth[of as usize]);
        let outside = !model.upline(stranger).contains(&of)
            || max_depth.is_some_and(|max_depth| level > max_depth);
        assert_eq!(
            index
                .downline_page(of, max_depth, Some(stranger), limit)
                .is_err(),
            outside
        );
    }

    /// Grows a network by `picks` from a random seed, in both structures.
    fn grow(index: &mut SponsorIndex, model: &mut Model, random: &mut Random, adds: usize) {
        for _ in 0..adds {
            let sponsor = random.sponsor(model.sponsor.len());
            assert_eq!(index.add(sponsor).unwrap(), model.add(sponsor));
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 64, ..ProptestConfig::default() })]

        /// Random enrollments with tiny blocks (splitting constantly), checked against the
        /// model along the way; then the same network built in bulk agrees too, and keeps
        /// agreeing as it grows.
        #[test]
        fn sponsor_index_matches_naive_model(
            block_len in 4usize..12,
            adds in 0usize..250,
            seed in any::<u64>(),
        ) {
            let mut random = Random::new(seed);
            let mut index = SponsorIndex::with_block_len(block_len);
            index.add_root().unwrap();
            let mut model = Model::with_root();
            let mut added = 0;
            while added < adds {
                let step = (random.below(60) + 1).min(adds - added);
                grow(&mut index, &mut model, &mut random, step);
                added += step;
                compare(&index, &model, &mut random);
            }
            compare(&index, &model, &mut random);

            let mut built = SponsorIndex::from_sponsors_with_block_len(&model.sponsor, block_len).unwrap();
            prop_assert!(built.preorder().eq(index.preorder()));
            compare(&built, &model, &mut random);
            grow(&mut built, &mut model, &mut random, 40);
            compare(&built, &model, &mut random);
        }
    }

    #[test]
    fn sponsor_index_with_default_blocks_matches_naive_model() {
        let mut random = Random::new(7);
        let mut model = Model::with_root();
        for _ in 0..6000 {
            let sponsor = random.below(model.sponsor.len()) as Node;
            model.add(sponsor);
        }
        let mut index = SponsorIndex::from_sponsors(&model.sponsor).unwrap();
        grow(&mut index, &mut model, &mut random, 6000);
        check_invariants(&index);
        assert!(index.preorder().eq(model.subtree(0)));
        for _ in 0..20 {
            compare_pages(&index, &model, &mut random);
        }
    }

    #[test]
    fn sponsor_index_empty_and_root() {
        let mut index = SponsorIndex::new();
        assert!(index.is_empty());
        assert_eq!(index.preorder().count(), 0);
        assert!(index.add(0).is_err());
        assert!(index.add(NONE).is_err());
        assert_eq!(index.add_root(), Ok(0));
        assert!(index.add_root().is_err());
        assert!(index.add(NONE).is_err());
        assert!(index.add(1).is_err());
        assert_eq!(
            (index.len(), index.sponsor(0), index.depth(0)),
            (1, None, 0)
        );
        assert_eq!(index.subtree_size(0), 1);
        assert!(!index.is_in_downline(0, 0));
        assert_eq!(
            index.downline_page(0, None, None, 5).unwrap(),
            DownlinePage::default()
        );
        assert!(index.downline_page(1, None, None, 5).is_err());
        assert!(index.downline_page(0, None, Some(0), 5).is_err());
        assert!(SponsorIndex::from_sponsors(&[]).unwrap().is_empty());
    }

    /// The network of the module doc, and the enrollment that breaks an `end` pointer: a
    /// recruit of the root placed after a member whose downline ran to the end.
    #[test]
    fn sponsor_index_small_network() {
        let mut index = SponsorIndex::with_block_len(4);
        index.add_root().unwrap();
        for sponsor in [0, 0, 1] {
            index.add(sponsor).unwrap();
        }
        assert!(index.preorder().eq([0, 1, 3, 2]));
        assert_eq!(index.subtree_size(1), 2);
        assert_eq!(
            index.downline_page(0, Some(1), None, 9).unwrap().items,
            [(1, 1), (2, 1)]
        );
        assert_eq!(index.add(0), Ok(4));
        assert_eq!(index.add(3), Ok(5));
        assert!(index.preorder().eq([0, 1, 3, 5, 2, 4]));
        assert_eq!(index.subtree_size(2), 1);
        assert_eq!(index.subtree_size(1), 3);
        let page = index.downline_page(0, Some(2), Some(3), 2).unwrap();
        assert_eq!(
            page,
            DownlinePage {
                items: vec![(2, 1), (4, 1)],
                more: false
            }
        );
        let page = index.downline_page(0, None, Some(1), 2).unwrap();
        assert_eq!(
            page,
            DownlinePage {
                items: vec![(3, 2), (5, 3)],
                more: true
            }
        );
        assert!(
            index.downline_page(0, Some(2), Some(5), 2).is_err(),
            "cursor too deep"
        );
        assert!(
            index.downline_page(1, None, Some(2), 2).is_err(),
            "cursor outside"
        );
        assert_eq!(
            index.downline_page(0, Some(0), None, 2).unwrap(),
            DownlinePage::default()
        );
        assert_eq!(
            index.subtree_sum(1, &[1, 10, 100, 1000, 10_000, 100_000]),
            101_010
        );
        assert!(index.upline(5, Some(2)).eq([3, 1]));
    }

    #[test]
    fn sponsor_index_rejects_bad_sponsor_arrays() {
        for bad in [
            &[0][..],
            &[1, 0],
            &[NONE, NONE],
            &[NONE, 1],
            &[NONE, 0, 2],
            &[NONE, 0, 5],
        ] {
            let error = SponsorIndex::from_sponsors(bad).unwrap_err();
            assert!(error.contains("member"), "{error}");
        }
        assert!(SponsorIndex::from_sponsors(&[NONE, 0, 1, 0]).is_ok());
    }

    /// A chain a million deep, built both ways: no recursion, and queries that do not walk it.
    #[test]
    fn sponsor_index_million_deep_chain() {
        const DEPTH: u32 = 1_000_000;
        let sponsors: Vec<Node> = iter::once(NONE).chain(0..DEPTH - 1).collect();
        let built = SponsorIndex::from_sponsors(&sponsors).unwrap();
        let mut grown = SponsorIndex::new();
        grown.add_root().unwrap();
        for sponsor in 0..DEPTH - 1 {
            grown.add(sponsor).unwrap();
        }
        for index in [&built, &grown] {
            let page = index.downline_page(0, None, None, 10).unwrap();
            let expected: Vec<(Node, u32)> = (1..=10).map(|node| (node, node)).collect();
            assert_eq!(
                page,
                DownlinePage {
                    items: expected,
                    more: true
                }
            );
            assert_eq!(index.subtree_size(0), u64::from(DEPTH));
            assert_eq!(index.subtree_size(DEPTH / 2), u64::from(DEPTH / 2));
            assert_eq!(index.position(DEPTH - 1), u64::from(DEPTH - 1));
            assert_eq!(index.node_at(u64::from(DEPTH / 3)), DEPTH / 3);
            assert!(index.is_in_downline(DEPTH - 1, 0));
            assert!(!index.is_in_downline(0, DEPTH - 1));
            assert_eq!(
                index.subtree_sum(0, &vec![1; DEPTH as usize]),
                i64::from(DEPTH)
            );
            let last_page = index.downline_page(0, None, Some(DEPTH - 2), 10).unwrap();
            assert_eq!(last_page.items, [(DEPTH - 1, DEPTH - 1)]);
            assert!(!last_page.more);
            assert!(index
                .upline(DEPTH - 1, Some(3))
                .eq([DEPTH - 2, DEPTH - 3, DEPTH - 4]));
        }
        assert!(built.preorder().eq(grown.preorder()));
        // A recruit of the root comes after the whole chain: crossing a million closings.
        let recruit = grown.add(0).unwrap();
        let page = grown.downline_page(0, None, Some(DEPTH - 1), 10).unwrap();
        assert_eq!(page.items, [(recruit, 1)]);
        let page = grown.downline_page(0, Some(1), None, 10).unwrap();
        assert_eq!(page.items, [(1, 1), (recruit, 1)]);
        assert_eq!(grown.node_at(u64::from(DEPTH)), recruit);
        check_invariants(&grown);
    }
}
