/*
 * Interrupt lines: the wire between an interrupt source and its sink.
 *
 * A line is a handler pointer plus the pin number it drives on the sink.
 * The board wires a device's output to, say, a PIC input; neither side
 * includes the other's header.  Level semantics: set(1) raises the line,
 * set(0) lowers it; edge-triggered sinks detect the 0->1 transition.
 */
#ifndef BTVM_MMU_IRQ_H
#define BTVM_MMU_IRQ_H

typedef void (*irq_handler)(void *opaque, int pin, int level);

typedef struct irq_line {
    irq_handler handler;
    void *opaque;
    int pin;
} irq_line;

static inline void irq_set(const irq_line *line, int level)
{
    if (line && line->handler)
        line->handler(line->opaque, line->pin, level);
}

/* A short pulse, as ISA devices that signal with an edge use. */
static inline void irq_pulse(const irq_line *line)
{
    irq_set(line, 1);
    irq_set(line, 0);
}

#endif
