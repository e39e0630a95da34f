// libzmq, as Debian's libzmq3-dev installs it. Only Sources/Shared/ZMQ/ imports this module.
#include <zmq.h>
