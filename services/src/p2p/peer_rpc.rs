//! The peer RPC on `/koinos/peerrpc/1.0.0` (go-libp2p-gorpc framing, ugorji MessagePack): the
//! `PeerRPCService` messages and one call's exchange over a stream. `PEER_RPC.md` has the
//! byte layout and the test vectors checked below.

use futures::io::{AsyncRead, AsyncWrite, AsyncWriteExt};

use super::msgpack::{self, DecodeError, Value, Writer};

/// The libp2p protocol id of the peer RPC.
pub const PROTOCOL: &str = "/koinos/peerrpc/1.0.0";
/// The gorpc service name.
pub const SERVICE: &str = "PeerRPCService";

/// Largest `ServiceID` header read (gorpc bounds its own header read the same way).
pub const MAX_HEADER_BYTES: usize = 512;
/// Largest request arguments read (the largest request carries one 34-byte id).
pub const MAX_REQUEST_BYTES: usize = 4096;
/// Largest `Response` header read (it carries the error text).
pub const MAX_RESPONSE_HEADER_BYTES: usize = 64 * 1024;
/// Largest reply read: a `GetBlocks` batch of 500 blocks.
pub const MAX_REPLY_BYTES: usize = 256 * 1024 * 1024;

/// gorpc's `responseErr`: who failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrType {
    /// The method itself returned an error.
    NonRpc = 0,
    /// gorpc on the server (decoding, unknown service or method).
    Server = 1,
    /// gorpc on the client.
    Client = 2,
}

/// gorpc's `ServiceID{Name, Method}` header.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ServiceId {
    pub name: String,
    pub method: String,
}

impl ServiceId {
    pub fn peer_rpc(method: &str) -> Self {
        Self {
            name: SERVICE.into(),
            method: method.into(),
        }
    }

    fn write(&self, w: &mut Writer) {
        w.map_len(2);
        w.str("Name");
        w.str(&self.name);
        w.str("Method");
        w.str(&self.method);
    }

    fn read(v: &Value) -> Result<Self, DecodeError> {
        let f = v.fields()?;
        Ok(Self {
            name: f.get("Name").as_string()?,
            method: f.get("Method").as_string()?,
        })
    }

    pub fn encode(&self) -> Vec<u8> {
        let mut w = Writer::new();
        self.write(&mut w);
        w.into_bytes()
    }

    pub fn decode(bytes: &[u8]) -> Result<Self, DecodeError> {
        Self::read(&msgpack::decode(bytes)?)
    }
}

/// gorpc's `Response{Service, Error, ErrType}` header, sent before the reply.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResponseHeader {
    pub service: ServiceId,
    pub error: String,
    pub err_type: i64,
}

impl ResponseHeader {
    pub fn ok(service: ServiceId) -> Self {
        Self {
            service,
            error: String::new(),
            err_type: ErrType::NonRpc as i64,
        }
    }

    pub fn encode(&self) -> Vec<u8> {
        let mut w = Writer::new();
        w.map_len(3);
        w.str("Service");
        self.service.write(&mut w);
        w.str("Error");
        w.str(&self.error);
        w.str("ErrType");
        w.int(self.err_type);
        w.into_bytes()
    }

    pub fn decode(bytes: &[u8]) -> Result<Self, DecodeError> {
        let v = msgpack::decode(bytes)?;
        let f = v.fields()?;
        Ok(Self {
            service: ServiceId::read(f.get("Service"))?,
            error: f.get("Error").as_string()?,
            err_type: f.get("ErrType").as_i64()?,
        })
    }
}

/// A `PeerRPCService` request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Request {
    /// `GetChainIDRequest{}`
    GetChainId,
    /// `GetHeadBlockRequest{}`
    GetHeadBlock,
    /// `GetAncestorBlockIDRequest{ParentID *Multihash, ChildHeight uint64}`
    GetAncestorBlockId {
        parent_id: Option<Vec<u8>>,
        child_height: u64,
    },
    /// `GetBlocksRequest{HeadBlockID *Multihash, StartBlockHeight uint64, NumBlocks uint32}`
    GetBlocks {
        head_block_id: Option<Vec<u8>>,
        start_block_height: u64,
        num_blocks: u32,
    },
}

impl Request {
    pub fn method(&self) -> &'static str {
        match self {
            Request::GetChainId => "GetChainID",
            Request::GetHeadBlock => "GetHeadBlock",
            Request::GetAncestorBlockId { .. } => "GetAncestorBlockID",
            Request::GetBlocks { .. } => "GetBlocks",
        }
    }

    /// The arguments (what follows the `ServiceID` header).
    pub fn encode_args(&self) -> Vec<u8> {
        let mut w = Writer::new();
        match self {
            Request::GetChainId | Request::GetHeadBlock => w.map_len(0),
            Request::GetAncestorBlockId {
                parent_id,
                child_height,
            } => {
                w.map_len(2);
                w.str("ParentID");
                w.opt_bytes(parent_id.as_deref());
                w.str("ChildHeight");
                w.uint(*child_height);
            }
            Request::GetBlocks {
                head_block_id,
                start_block_height,
                num_blocks,
            } => {
                w.map_len(3);
                w.str("HeadBlockID");
                w.opt_bytes(head_block_id.as_deref());
                w.str("StartBlockHeight");
                w.uint(*start_block_height);
                w.str("NumBlocks");
                w.uint(u64::from(*num_blocks));
            }
        }
        w.into_bytes()
    }

    /// Decodes the arguments of `method`; `Ok(None)` for a method the service does not have.
    pub fn decode_args(method: &str, bytes: &[u8]) -> Result<Option<Self>, DecodeError> {
        let v = msgpack::decode(bytes)?;
        let f = v.fields()?;
        Ok(Some(match method {
            "GetChainID" => Request::GetChainId,
            "GetHeadBlock" => Request::GetHeadBlock,
            "GetAncestorBlockID" => Request::GetAncestorBlockId {
                parent_id: f.get("ParentID").as_opt_bytes()?,
                child_height: f.get("ChildHeight").as_u64()?,
            },
            "GetBlocks" => Request::GetBlocks {
                head_block_id: f.get("HeadBlockID").as_opt_bytes()?,
                start_block_height: f.get("StartBlockHeight").as_u64()?,
                num_blocks: u32::try_from(f.get("NumBlocks").as_u64()?)
                    .map_err(|_| DecodeError::Shape("NumBlocks overflows uint32".into()))?,
            },
            _ => return Ok(None),
        }))
    }
}

/// A `PeerRPCService` reply.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Reply {
    /// `GetChainIDResponse{ID}` (and `GetAncestorBlockIDResponse{ID}`)
    Id(Option<Vec<u8>>),
    /// `GetHeadBlockResponse{ID, Height}`
    HeadBlock { id: Option<Vec<u8>>, height: u64 },
    /// `GetBlocksResponse{Blocks [][]byte}`: serialized `protocol.block`s
    Blocks(Option<Vec<Vec<u8>>>),
}

impl Reply {
    pub fn encode(&self) -> Vec<u8> {
        let mut w = Writer::new();
        match self {
            Reply::Id(id) => {
                w.map_len(1);
                w.str("ID");
                w.opt_bytes(id.as_deref());
            }
            Reply::HeadBlock { id, height } => {
                w.map_len(2);
                w.str("ID");
                w.opt_bytes(id.as_deref());
                w.str("Height");
                w.uint(*height);
            }
            Reply::Blocks(blocks) => {
                w.map_len(1);
                w.str("Blocks");
                match blocks {
                    None => w.nil(),
                    Some(blocks) => {
                        w.array_len(blocks.len());
                        for block in blocks {
                            w.bytes(block);
                        }
                    }
                }
            }
        }
        w.into_bytes()
    }

    /// Decodes the reply to `request`.
    pub fn decode(request: &Request, bytes: &[u8]) -> Result<Self, DecodeError> {
        let v = msgpack::decode(bytes)?;
        let f = v.fields()?;
        Ok(match request {
            Request::GetChainId | Request::GetAncestorBlockId { .. } => {
                Reply::Id(f.get("ID").as_opt_bytes()?)
            }
            Request::GetHeadBlock => Reply::HeadBlock {
                id: f.get("ID").as_opt_bytes()?,
                height: f.get("Height").as_u64()?,
            },
            Request::GetBlocks { .. } => match f.get("Blocks") {
                Value::Nil => Reply::Blocks(None),
                Value::Array(items) => Reply::Blocks(Some(
                    items
                        .iter()
                        .map(Value::as_bytes)
                        .collect::<Result<_, _>>()?,
                )),
                _ => return Err(DecodeError::Shape("Blocks is not an array".into())),
            },
        })
    }
}

/// Why a call failed.
#[derive(Debug, thiserror::Error)]
pub enum CallError {
    /// The peer answered with an error (`Response.Error`).
    #[error("peer error ({err_type}): {message}")]
    Remote { message: String, err_type: i64 },
    /// The peer's bytes are not a valid answer.
    #[error("malformed peer answer: {0}")]
    Malformed(#[from] DecodeError),
    #[error("stream: {0}")]
    Io(#[from] std::io::Error),
}

/// Makes one call over a fresh stream: `ServiceID`, the arguments, then reads `Response` and
/// the reply. The stream is not half-closed before the answer (the Go server cancels the
/// call's context when its read side ends).
pub async fn call<S: AsyncRead + AsyncWrite + Unpin>(
    stream: &mut S,
    request: &Request,
) -> Result<Reply, CallError> {
    let mut out = ServiceId::peer_rpc(request.method()).encode();
    out.extend(request.encode_args());
    stream.write_all(&out).await?;
    stream.flush().await?;
    let header = msgpack::read_value_bytes(stream, MAX_RESPONSE_HEADER_BYTES).await?;
    let header = ResponseHeader::decode(&header)?;
    let reply = msgpack::read_value_bytes(stream, MAX_REPLY_BYTES).await?;
    if !header.error.is_empty() {
        return Err(CallError::Remote {
            message: header.error,
            err_type: header.err_type,
        });
    }
    Ok(Reply::decode(request, &reply)?)
}

/// A request read by the server: what to answer, or what to say when it cannot be served.
#[derive(Debug)]
pub enum Incoming {
    Call(ServiceId, Request),
    /// A well-formed header naming another service or method: answered with a server error.
    Unknown(ServiceId),
}

/// Reads the `ServiceID` header and the arguments of one call.
pub async fn read_request<S: AsyncRead + Unpin>(stream: &mut S) -> Result<Incoming, DecodeError> {
    let header = msgpack::read_value_bytes(stream, MAX_HEADER_BYTES).await?;
    let service = ServiceId::decode(&header)?;
    let args = msgpack::read_value_bytes(stream, MAX_REQUEST_BYTES).await?;
    if service.name != SERVICE {
        return Ok(Incoming::Unknown(service));
    }
    match Request::decode_args(&service.method, &args)? {
        Some(request) => Ok(Incoming::Call(service, request)),
        None => Ok(Incoming::Unknown(service)),
    }
}

/// Writes an answer: the header, then the reply (nil when there is none, as gorpc does on error).
pub async fn write_answer<S: AsyncWrite + Unpin>(
    stream: &mut S,
    header: &ResponseHeader,
    reply: Option<&Reply>,
) -> std::io::Result<()> {
    let mut out = header.encode();
    match reply {
        Some(reply) => out.extend(reply.encode()),
        None => out.push(0xc0),
    }
    stream.write_all(&out).await?;
    stream.flush().await?;
    stream.close().await
}

/// The server error gorpc answers for an unknown service or method.
pub fn unknown_answer(service: &ServiceId) -> ResponseHeader {
    let error = if service.name != SERVICE {
        format!("rpc: can't find service {}", service.name)
    } else {
        format!("rpc: can't find method {}", service.method)
    };
    ResponseHeader {
        service: ServiceId::default(),
        error,
        err_type: ErrType::Server as i64,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn unhex(s: &str) -> Vec<u8> {
        hex::decode(s.split_whitespace().collect::<String>()).unwrap()
    }

    /// The id used by the vectors: 0x1220 followed by 32 bytes 0x00..0x1f.
    fn id() -> Vec<u8> {
        let mut id = vec![0x12, 0x20];
        id.extend(0u8..32);
        id
    }
    const ID_HEX: &str = "1220 000102030405060708090a0b0c0d0e0f 101112131415161718191a1b1c1d1e1f";

    // Vectors from PEER_RPC.md (derived by hand from gorpc and ugorji's msgpack handle).
    const GET_CHAIN_ID_CALL: &str = "82 a44e616d65 ae50656572525043536572766963 65 \
         a64d6574686f64 aa476574436861696e4944 80";

    #[test]
    fn get_chain_id_call_vector() {
        let mut bytes = ServiceId::peer_rpc("GetChainID").encode();
        bytes.extend(Request::GetChainId.encode_args());
        assert_eq!(bytes, unhex(GET_CHAIN_ID_CALL));
    }

    #[test]
    fn ok_response_and_chain_id_reply_vector() {
        let header = ResponseHeader::ok(ServiceId::peer_rpc("GetChainID"));
        let expected_header = unhex(
            "83 a753657276696365 82 a44e616d65 ae50656572525043536572766963 65 \
             a64d6574686f64 aa476574436861696e4944 a54572726f72 a0 a74572725479706500",
        );
        assert_eq!(header.encode(), expected_header);
        assert_eq!(ResponseHeader::decode(&expected_header).unwrap(), header);
        let reply = Reply::Id(Some(id()));
        let expected_reply = unhex(&format!("81 a24944 da0022 {ID_HEX}"));
        assert_eq!(reply.encode(), expected_reply);
        assert_eq!(
            Reply::decode(&Request::GetChainId, &expected_reply).unwrap(),
            reply
        );
    }

    #[test]
    fn get_blocks_request_vector() {
        let request = Request::GetBlocks {
            head_block_id: Some(id()),
            start_block_height: 1,
            num_blocks: 500,
        };
        let expected = unhex(&format!(
            "83 ab48656164426c6f636b4944 da0022 {ID_HEX} \
             b05374617274426c6f636b486569676874 01 a94e756d426c6f636b73 cd01f4"
        ));
        assert_eq!(request.encode_args(), expected);
        assert_eq!(
            Request::decode_args("GetBlocks", &expected).unwrap(),
            Some(request)
        );
    }

    #[test]
    fn get_ancestor_and_head_block_vectors() {
        let request = Request::GetAncestorBlockId {
            parent_id: None,
            child_height: 300,
        };
        let expected = unhex("82 a8506172656e744944 c0 ab4368696c64486569676874 cd012c");
        assert_eq!(request.encode_args(), expected);
        assert_eq!(
            Request::decode_args("GetAncestorBlockID", &expected).unwrap(),
            Some(request)
        );
        let reply = Reply::HeadBlock {
            id: Some(id()),
            height: 70_000,
        };
        let expected = unhex(&format!(
            "82 a24944 da0022 {ID_HEX} a6486569676874 ce00011170"
        ));
        assert_eq!(reply.encode(), expected);
        assert_eq!(
            Reply::decode(&Request::GetHeadBlock, &expected).unwrap(),
            reply
        );
    }

    #[test]
    fn get_blocks_reply_vector() {
        let reply = Reply::Blocks(Some(vec![vec![0x0a, 0x01], vec![]]));
        let expected = unhex("81 a6426c6f636b73 92 a20a01 a0");
        assert_eq!(reply.encode(), expected);
        let request = Request::GetBlocks {
            head_block_id: None,
            start_block_height: 1,
            num_blocks: 2,
        };
        assert_eq!(Reply::decode(&request, &expected).unwrap(), reply);
        // a nil slice (the Go zero value) and str8/bin8 from a newer codec decode too
        assert_eq!(
            Reply::decode(&request, &unhex("81 a6426c6f636b73 c0")).unwrap(),
            Reply::Blocks(None)
        );
        assert_eq!(
            Reply::decode(&request, &unhex("81 a6426c6f636b73 91 c4020a01")).unwrap(),
            Reply::Blocks(Some(vec![vec![0x0a, 0x01]]))
        );
    }

    #[test]
    fn unknown_method_error_vector() {
        let header = unknown_answer(&ServiceId::peer_rpc("Nope"));
        let text = b"rpc: can't find method Nope";
        let expected = unhex(&format!(
            "83 a753657276696365 82 a44e616d65 a0 a64d6574686f64 a0 \
             a54572726f72 bb{} a74572725479706501",
            hex::encode(text)
        ));
        assert_eq!(header.encode(), expected);
    }

    #[test]
    fn unknown_fields_are_ignored_and_wrong_types_refused() {
        // {"Extra": 1, "ChildHeight": 5}
        let bytes = unhex("82 a54578747261 01 ab4368696c64486569676874 05");
        assert_eq!(
            Request::decode_args("GetAncestorBlockID", &bytes).unwrap(),
            Some(Request::GetAncestorBlockId {
                parent_id: None,
                child_height: 5
            })
        );
        // ChildHeight as a string
        let bytes = unhex("81 ab4368696c64486569676874 a135");
        assert!(Request::decode_args("GetAncestorBlockID", &bytes).is_err());
        assert!(Request::decode_args("GetChainID", &[0x92, 0x01, 0x02]).is_err());
        assert_eq!(Request::decode_args("Other", &[0x80]).unwrap(), None);
    }

    #[tokio::test]
    async fn oversized_requests_are_refused_before_they_are_read() {
        // a ServiceID whose method name alone is 600 bytes
        let header = ServiceId::peer_rpc(&"x".repeat(600)).encode();
        let mut reader = futures::io::Cursor::new([header, vec![0x80]].concat());
        assert!(matches!(
            read_request(&mut reader).await,
            Err(DecodeError::TooLarge(MAX_HEADER_BYTES))
        ));
        // arguments past 4 KiB
        let mut args = Writer::new();
        args.map_len(1);
        args.str("ParentID");
        args.bytes(&[0; 5000]);
        let call = [
            ServiceId::peer_rpc("GetAncestorBlockID").encode(),
            args.into_bytes(),
        ]
        .concat();
        let mut reader = futures::io::Cursor::new(call);
        assert!(matches!(
            read_request(&mut reader).await,
            Err(DecodeError::TooLarge(MAX_REQUEST_BYTES))
        ));
    }

    /// An in-memory duplex stream: what the client writes, the server reads, and back.
    #[tokio::test]
    async fn call_and_serve_over_a_duplex_stream() {
        use tokio_util::compat::TokioAsyncReadCompatExt;
        let (client, server) = tokio::io::duplex(1 << 16);
        let (mut client, mut server) = (client.compat(), server.compat());
        let server_task = tokio::spawn(async move {
            let Incoming::Call(service, request) = read_request(&mut server).await.unwrap() else {
                panic!("unknown call")
            };
            assert_eq!(request, Request::GetHeadBlock);
            let reply = Reply::HeadBlock {
                id: Some(vec![1, 2]),
                height: 9,
            };
            write_answer(&mut server, &ResponseHeader::ok(service), Some(&reply))
                .await
                .unwrap();
        });
        let reply = call(&mut client, &Request::GetHeadBlock).await.unwrap();
        assert_eq!(
            reply,
            Reply::HeadBlock {
                id: Some(vec![1, 2]),
                height: 9
            }
        );
        server_task.await.unwrap();

        // an error answer carries a nil reply
        let (client, server) = tokio::io::duplex(1 << 16);
        let (mut client, mut server) = (client.compat(), server.compat());
        tokio::spawn(async move {
            let incoming = read_request(&mut server).await.unwrap();
            let Incoming::Call(service, _) = incoming else {
                panic!()
            };
            let header = ResponseHeader {
                service,
                error: "boom".into(),
                err_type: 0,
            };
            write_answer(&mut server, &header, None).await.unwrap();
        });
        let err = call(&mut client, &Request::GetChainId).await.unwrap_err();
        assert!(matches!(err, CallError::Remote { ref message, err_type: 0 } if message == "boom"));
    }
}
