/* syscalls/netpoll_uring_none.c - the io_uring backend of a build without
 * a liburing that has what netpoll_uring.c uses (2.2: 64-bit user data,
 * cancelling by fd; Debian bullseye ships 0.7). It has no init: netpoll
 * uses epoll without a notice, since nothing at run time could change it. */
#include "syscalls/netpoll.h"

const struct netpoll_backend netpoll_uring_backend = {
    .name = "io_uring",
};
