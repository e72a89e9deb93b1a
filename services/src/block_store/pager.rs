//! The one reader of block_store's blocks by height: every catch-up pages
//! `get_blocks_by_height` through [`BlockPager`] (a block_store replica from its peers, the
//! indexing stores, account_history's back-fill, chain at start-up).

use koinos_protocol::BlockTopology;
use koinos_protocol::pb::koinos::block_store::BlockItem;
use koinos_protocol::rpc::block_store::{
    BlockStoreRequest, BlockStoreResponse, GetBlocksByHeightRequest, block_store_request,
    block_store_response,
};

use super::{MAX_BLOCKS_PER_REQUEST, SERVICE};
use crate::mq::typed::{CallError, TypedClient};
use crate::mq::{CallOptions, RpcClient};

/// Why a page could not be read.
#[derive(Debug, thiserror::Error)]
pub enum PageError {
    /// The call failed, or block_store answered with an `error`.
    #[error(transparent)]
    Call(#[from] CallError),
    /// block_store answered something other than `get_blocks_by_height` (`empty`: nothing).
    #[error("unexpected block_store answer")]
    Unexpected {
        /// The response was empty.
        empty: bool,
    },
}

/// Pages through the ancestors of `head` from a start height up to `head`, one
/// `get_blocks_by_height` call per page.
#[derive(Debug)]
pub struct BlockPager {
    block_store: TypedClient<BlockStoreRequest, BlockStoreResponse>,
    head: BlockTopology,
    next: u64,
    page: u32,
    return_receipt: bool,
}

impl BlockPager {
    /// Pages of [`MAX_BLOCKS_PER_REQUEST`] blocks (without receipts) from height `start`,
    /// each call made with `options`.
    pub fn new(client: &RpcClient, options: CallOptions, head: &BlockTopology, start: u64) -> Self {
        Self {
            block_store: TypedClient::new(client, SERVICE, options),
            head: head.clone(),
            next: start,
            page: MAX_BLOCKS_PER_REQUEST as u32,
            return_receipt: false,
        }
    }

    /// Also read each block's receipt.
    pub fn with_receipts(mut self) -> Self {
        self.return_receipt = true;
        self
    }

    /// Start with pages of `first` blocks, doubling after each up to the maximum.
    pub fn growing_from(mut self, first: u32) -> Self {
        self.page = first;
        self
    }

    /// The next height to read.
    pub fn next_height(&self) -> u64 {
        self.next
    }

    /// The next page, in height order; `None` once past the head. An empty page means
    /// block_store has no more of them (it ends the paging).
    pub async fn next_page(&mut self) -> Result<Option<Vec<BlockItem>>, PageError> {
        if self.next > self.head.height {
            return Ok(None);
        }
        let request = block_store_request::Request::GetBlocksByHeight(GetBlocksByHeightRequest {
            head_block_id: self.head.id.clone(),
            ancestor_start_height: self.next,
            num_blocks: self.page,
            return_block: true,
            return_receipt: self.return_receipt,
        });
        let response = self
            .block_store
            .call(&BlockStoreRequest {
                request: Some(request),
            })
            .await?;
        let items = match response.response {
            Some(block_store_response::Response::GetBlocksByHeight(r)) => r.block_items,
            other => {
                return Err(PageError::Unexpected {
                    empty: other.is_none(),
                });
            }
        };
        self.next = match items.last() {
            Some(last) => last.block_height + 1,
            None => u64::MAX,
        };
        self.page = self
            .page
            .saturating_mul(2)
            .min(MAX_BLOCKS_PER_REQUEST as u32);
        Ok(Some(items))
    }
}
