/* {"type":"heartbeat","at":1709251200} as msgpack: the one valid message
 * the misbehaving test plugins emit. */
#ifndef MTD_BADPLUGIN_HEARTBEAT_H
#define MTD_BADPLUGIN_HEARTBEAT_H
static const unsigned char heartbeat[] = {0x82, 0xa4, 't', 'y', 'p', 'e', 0xa9, 'h', 'e', 'a', 'r', 't',
					  'b', 'e', 'a', 't', 0xa2, 'a', 't', 0xce, 0x65, 0xe1,
					  0x1a, 0x80};
#endif
