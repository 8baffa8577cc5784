/*
 * A character back end: the host side of a serial port.
 *
 * The front end implements write (guest -> host bytes); a device that
 * consumes input registers a receiver, and the front end pushes host
 * bytes into it when the device can take them.
 */
#ifndef BTVM_DEVICES_CHARDEV_H
#define BTVM_DEVICES_CHARDEV_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct chardev {
    void (*write)(struct chardev *cd, const uint8_t *buf, size_t len);
    void *host; /* the front end's own state */

    /* set by the device that owns the port */
    bool (*can_receive)(void *dev);
    void (*receive)(void *dev, uint8_t byte);
    void *dev;
} chardev;

static inline void chardev_write(chardev *cd, const uint8_t *buf, size_t len)
{
    if (cd && cd->write)
        cd->write(cd, buf, len);
}

#endif
