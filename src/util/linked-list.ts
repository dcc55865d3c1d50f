/**
 * An intrusive doubly-linked list: entries carry their own `prev`/`next` links, so appending and
 * unlinking are O(1) and allocate nothing. Deadline queues (asks, resilient calls) are built on
 * it: appended in deadline order, swept from the head, unlinked when they settle early.
 */
export interface Linked<T> {
  prev: T | null;
  next: T | null;
}

export class LinkedList<T extends Linked<T>> {
  head: T | null = null;
  tail: T | null = null;

  append(entry: T): void {
    const tail = this.tail;
    if (tail === null) this.head = entry;
    else {
      tail.next = entry;
      entry.prev = tail;
    }
    this.tail = entry;
  }

  unlink(entry: T): void {
    const { prev, next } = entry;
    if (prev === null) this.head = next;
    else prev.next = next;
    if (next === null) this.tail = prev;
    else next.prev = prev;
    entry.prev = entry.next = null;
  }
}
