// libzmq, as Debian's libzmq3-dev installs it. Only Sources/Transport/ZMQ/LibZMQ.swift (target RecTransport) imports this module.
#include <zmq.h>
