// expect: simulation: no verdict \((wall-clock timeout|CPU time limit)\)
module TopModule (input [7:0] a, input [7:0] b, output [8:0] sum);
  reg [8:0] s;
  always @(a or b) begin
    s = a + b;
    while (1) s = s + 1;
  end
  assign sum = s;
endmodule
