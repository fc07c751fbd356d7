"""The real-time missile-warning feed: labelled, signed tracks at thousands of messages a second.

    tracks        the messages (launch, track update, impact prediction, end of track), pure data
    wire          their compact CBOR form; a stream's label travels once, messages name its digest
    cot           Cursor-on-Target ⇄ messages, for TAK clients (hardened parsing)
    trajectory    a simulated ballistic launch into the Sea of Japan, deterministic per seed
    sequence      per-stream gap / duplicate / staleness tracking on the receiving side
    replay        the sender's bounded replay buffer (optionally persisted to SQLite, written behind)
    batch_signing one Ed25519 signature over a Merkle root per batch
    dissemination per-recipient policy gates (release, relay with T5 consent, receipt, read)
    hop_audit     what the gates decided, counted per stream and interval for the audit trail
    broker        in-process pub/sub; nats_broker: the same over NATS JetStream
    link          the per-connection protocol (hello, signed batches, replay requests)
    node          a feed node: WebSocket server, peer links, policy per hop
    subscriber    a subscriber's verifying, gap-repairing end
    cot_listener  CoT over TCP/TLS on a node
    pipeline      the loopback chain sensor → KOR → USA hub → JPN → subscriber (demo, tests, benchmark)
    served        the feed inside a running node (`gsomia serve`): its keys, partners, consents, tokens
    served_audit  a running node's per-hop decisions into its audit trail, off the hot path

Modules are imported by name; this package imports nothing itself, so using `tracks` or `wire`
does not pull in websockets or NATS.
"""
