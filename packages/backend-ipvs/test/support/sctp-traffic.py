#!/usr/bin/env python3
"""SCTP traffic for the IPVS VM tests (Node has no SCTP sockets); run with `ip netns exec NS python3 ...`.

  serve PORT NAME   a pod's server (IPv4 and IPv6): answers each message with a JSON line naming the pod,
                    the port it was reached on and the address it saw; prints "ready" once listening.
  probe HOST PORT COUNT   COUNT associations in turn, each sending one message; prints a JSON list of
                          {"ok": true, "answer": ...} or {"ok": false, "error": ...}.
"""
import json
import socket
import sys
import threading


def serve(port, name):
    server = socket.socket(socket.AF_INET6, socket.SOCK_STREAM, socket.IPPROTO_SCTP)
    server.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0)
    server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
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


def probe(host, port):
    family = socket.AF_INET6 if ':' in host else socket.AF_INET
    try:
        with socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_SCTP) as client:
            client.settimeout(3)
            client.connect((host, port))
            client.sendall(b'hello\n')
            return {'ok': True, 'answer': json.loads(client.recv(1024).decode().split('\n')[0])}
    except OSError as error:
        return {'ok': False, 'error': type(error).__name__ + ': ' + str(error)}


if __name__ == '__main__':
    mode, *args = sys.argv[1:]
    if mode == 'serve':
        serve(int(args[0]), args[1])
    elif mode == 'probe':
        print(json.dumps([probe(args[0], int(args[1])) for _ in range(int(args[2]))]), flush=True)
    else:
        sys.exit(f'unknown mode {mode}')
