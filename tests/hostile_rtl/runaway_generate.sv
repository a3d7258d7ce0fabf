// expect: syntax: (wall-clock timeout|CPU time limit|aborted|segmentation fault|killed)
module Cell (input x, output y);
  assign y = ~x;
endmodule
module TopModule (input [7:0] a, input [7:0] b, output [8:0] sum);
  wire [(1 << 20):0] chain;
  assign chain[0] = a[0];
  genvar i;
  generate
    for (i = 0; i < (1 << 20); i = i + 1) begin : g
      Cell c (.x(chain[i]), .y(chain[i + 1]));
    end
  endgenerate
  assign sum = a + b;
endmodule
