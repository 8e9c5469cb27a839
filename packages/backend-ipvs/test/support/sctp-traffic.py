#!/usr/bin/env python3
"""SCTP traffic for the IPVS VM tests (Node has no SCTP sockets); run with `ip netns exec NS python3 ...`.

  serve PORT NAME   a pod's server (IPv4 and IPv6): answers each message with a JSON line naming the pod,
                    the port it was reached on and the address it saw; prints "ready" once listening.
  probe HOST PORT COUNT [HOLD]   COUNT associations in turn, each sending one message (after holding the
                                association up for HOLD seconds, 0 by default); prints a JSON list of
                                {"ok": true, "answer": ...} or {"ok": false, "error": ...}.

Both ends are single-path, as SCTP through a Service has to be: Linux lists every local address in
INIT and INIT-ACK and, after about one RTO (3 s at first), sends HEARTBEATs to confirm those extra
paths. Through NAT (a masqueraded NodePort) the peer's real address is reachable here, but the
association's ports were translated, so the HEARTBEAT is out of the blue and is answered with ABORT:
the association is reset. Kubernetes does not support multihomed SCTP through NAT.
"""
import json
import socket
import sys
import threading
import time

SCTP_PEER_ADDR_PARAMS = 9
SPP_HB_DISABLE = 2


def single_path(sock):
    """No HEARTBEATs, so no probing of the extra addresses the peer listed (see above)."""
    # struct sctp_paddrparams, packed: assoc id (4), sockaddr_storage (128), hbinterval (4), pathmaxrxt (2),
    # pathmtu (4), sackdelay (4), flags (4) at 146, ipv6 flowlabel (4), dscp (1); 156 bytes aligned.
    params = bytearray(156)
    params[146:150] = SPP_HB_DISABLE.to_bytes(4, 'little')
    sock.setsockopt(socket.IPPROTO_SCTP, SCTP_PEER_ADDR_PARAMS, bytes(params))


def serve(port, name):
    server = socket.socket(socket.AF_INET6, socket.SOCK_STREAM, socket.IPPROTO_SCTP)
    server.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0)
    server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    single_path(server)
    server.bind(('::', port))
    server.listen(64)
    print('ready', flush=True)
    while True:
        conn, peer = server.accept()
        threading.Thread(target=answer, args=(conn, peer, port, name), daemon=True).start()


def answer(conn, peer, port, name):
    with conn:
        while conn.recv(1024):
            source = peer[0].removeprefix('::ffff:')
            conn.sendall((json.dumps({'pod': name, 'port': port, 'from': source}) + '\n').encode())


def probe(host, port, hold):
    family = socket.AF_INET6 if ':' in host else socket.AF_INET
    try:
        with socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_SCTP) as client:
            client.settimeout(3)
            single_path(client)
            client.connect((host, port))
            time.sleep(hold)
            client.sendall(b'hello\n')
            return {'ok': True, 'answer': json.loads(client.recv(1024).decode().split('\n')[0])}
    except OSError as error:
        return {'ok': False, 'error': type(error).__name__ + ': ' + str(error)}


if __name__ == '__main__':
    mode, *args = sys.argv[1:]
    if mode == 'serve':
        serve(int(args[0]), args[1])
    elif mode == 'probe':
        hold = float(args[3]) if len(args) > 3 else 0
        print(json.dumps([probe(args[0], int(args[1]), hold) for _ in range(int(args[2]))]), flush=True)
    else:
        sys.exit(f'unknown mode {mode}')
